// Package workflows holds the SessionLifecycle workflow and its public contract: the
// names and payloads of its updates and queries, which the API and the orchestration
// service use to drive and read sessions.
package workflows

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/telehealth/sessions/internal/session"
	"github.com/telehealth/sessions/internal/video"
)

// Version is the workflow's contract version, reported to callers in
// X-Workflow-Version.
const Version = "enterprise-2.0.0"

// Message names. They are stored in workflow histories and used by other services:
// never rename or reuse one.
const (
	// CreateSessionUpdate returns the session's links once its meeting exists. The API
	// sends it with update-with-start, so one round trip starts the workflow and waits.
	CreateSessionUpdate = "CreateSession"
	// SessionQuery returns the session's State.
	SessionQuery = "Session"
	// VisitEventSignal carries one VisitEvent from the video platform: the webhook
	// endpoint sends it, and so may M10.
	VisitEventSignal = "VisitEvent"
	// NextInQueueSignal (payload NextInQueue) tells a waiting patient's session that the
	// patient is first in the provider's waiting room.
	NextInQueueSignal = "NextInQueue"
	// RescheduleUpdate (RescheduleRequest, returns State) moves a session that has not
	// started: the meeting is patched, every timer re-armed, the patient told again.
	RescheduleUpdate = "Reschedule"
	// CancelUpdate (CancelRequest, returns State) cancels a session that has not
	// started: the meeting is deleted, the patient and staff told, billing and
	// follow-up skipped. Sent with update-with-start, it cancels a booking whose
	// session does not exist yet.
	CancelUpdate = "Cancel"
	// SummaryQuery returns the session's Summary (see BuildSummary): what M10 shows
	// after the visit. It carries the provider's pre-session notes, which are PHI.
	SummaryQuery = "Summary"
)

// Application error types: stable strings that callers branch on.
const (
	ErrTypeInvalidBooking  = "InvalidBooking"
	ErrTypeBookingConflict = "BookingConflict"
	ErrTypeMeetingFailed   = "MeetingFailed"
	// ErrTypeSessionCancelled answers a CreateSession update for a cancelled session.
	ErrTypeSessionCancelled = "SessionCancelled"
	// ErrTypeInvalidChange rejects a reschedule or cancel, listing every problem.
	ErrTypeInvalidChange = "InvalidChange"
)

// Search attributes the workflow keeps current, for operators in the Web UI. They hold
// ids, statuses and times only, never PHI. The server must have them registered.
var (
	SessionIDAttr      = temporal.NewSearchAttributeKeyKeyword("SessionId")
	SessionStatusAttr  = temporal.NewSearchAttributeKeyKeyword("SessionStatus")
	ScheduledStartAttr = temporal.NewSearchAttributeKeyTime("ScheduledStart")
	// MeetingIDAttr is the platform's meeting id: webhooks find their session by it.
	MeetingIDAttr = temporal.NewSearchAttributeKeyKeyword("MeetingId")
	// ProviderIDAttr is the provider's opaque key (see ProviderKey).
	ProviderIDAttr = temporal.NewSearchAttributeKeyKeyword("ProviderId")
	// WaitingSinceAttr is set while the patient is in the waiting room: when they
	// entered it. The provider's waiting room lists the sessions that have it.
	WaitingSinceAttr = temporal.NewSearchAttributeKeyTime("WaitingSince")
	// RetentionDeleteAtAttr is when a RecordingRetention deletes its recording; the
	// operators' list of what is pending deletion reads it.
	RetentionDeleteAtAttr = temporal.NewSearchAttributeKeyTime("RetentionDeleteAt")
	// LegalHoldAttr is set while a recording is under legal hold.
	LegalHoldAttr = temporal.NewSearchAttributeKeyBool("LegalHold")
)

// SearchAttributes maps each attribute's name to its type name, as
// `temporal server start-dev --search-attribute` takes them.
var SearchAttributes = map[string]string{
	SessionIDAttr.GetName():      "Keyword",
	SessionStatusAttr.GetName():  "Keyword",
	ScheduledStartAttr.GetName(): "Datetime",
	MeetingIDAttr.GetName():      "Keyword",
	ProviderIDAttr.GetName():     "Keyword",
	WaitingSinceAttr.GetName():   "Datetime",
	// RecordingRetention's.
	RetentionDeleteAtAttr.GetName(): "Datetime",
	LegalHoldAttr.GetName():         "Bool",
}

// ProviderKey is the opaque key of a provider, from their email (or, without one,
// their name): the ProviderId search attribute and the {provider} of the waiting-room
// route. It is stable, and shows neither.
func ProviderKey(emailOrName string) string {
	v := strings.ToLower(strings.TrimSpace(emailOrName))
	if v == "" {
		return "unassigned"
	}
	sum := sha256.Sum256([]byte("provider:" + v))
	return "prov-" + hex.EncodeToString(sum[:10])
}

// WorkflowID returns the workflow id of a booking's session. It is derived from the
// booking id, so that a booking has at most one session, and hashed, so that nothing a
// booking system puts in its ids reaches Temporal's visibility store.
func WorkflowID(bookingID string) string {
	sum := sha256.Sum256([]byte(bookingID))
	return "session-" + hex.EncodeToString(sum[:12])
}

// Status is where a session is in its lifecycle.
type Status string

// Session statuses, in lifecycle order.
const (
	StatusCreating   Status = "CREATING"
	StatusScheduled  Status = "SCHEDULED"
	StatusInProgress Status = "IN_PROGRESS"
	StatusEnded      Status = "ENDED"
	StatusCompleted  Status = "COMPLETED"
	StatusFailed     Status = "FAILED"
	// StatusCancelled is final: the session was cancelled before it started.
	StatusCancelled Status = "CANCELLED"
	// StatusNoShow is final: the patient never came.
	StatusNoShow Status = "NO_SHOW"
)

// Policy is the part of configuration that shapes a session. It travels in the input
// because workflow code must not read the environment.
type Policy struct {
	BufferMinutes   int           `json:"bufferMinutes"`
	FollowUpDelay   time.Duration `json:"followUpDelay"`
	SessionFeeCents int           `json:"sessionFeeCents"`
	// NoShowFeeCents is what a no-show is billed; zero bills nothing (the billing
	// delivery is skipped).
	NoShowFeeCents int `json:"noShowFeeCents,omitempty"`
	// PastTolerance is how far in the past a scheduled start may be.
	PastTolerance time.Duration `json:"pastTolerance"`
	// RecordingRetention is how long a recording is kept before it is deleted; zero
	// takes DefaultRecordingRetention.
	RecordingRetention time.Duration `json:"recordingRetention,omitempty"`

	// The live visit's timers; a zero value takes its default (see Visit).
	Visit VisitPolicy `json:"visit"`
}

// VisitPolicy times the live visit. Zero fields take the defaults in withDefaults.
type VisitPolicy struct {
	// ReminderLead is how long before the start the patient is reminded; a session
	// booked inside it gets no reminder.
	ReminderLead time.Duration `json:"reminderLead,omitempty"`
	// NoShowGrace is how long after the start a patient who never came is a no-show.
	NoShowGrace time.Duration `json:"noShowGrace,omitempty"`
	// EndWait is how long, after the meeting was told to end, the session waits for
	// the platform's word that it has.
	EndWait time.Duration `json:"endWait,omitempty"`
	// RejoinGrace is how long after a meeting ends the visit stays open for a host who
	// dropped and starts it again.
	RejoinGrace time.Duration `json:"rejoinGrace,omitempty"`
	// HistoryLimit is the history length after which the session continues as new.
	HistoryLimit int `json:"historyLimit,omitempty"`
	// EHRExport sends the finished visit's Appointment and Encounter to the EHR; off,
	// the ehr delivery is skipped.
	EHRExport bool `json:"ehrExport,omitempty"`
}

// Visit policy defaults.
const (
	DefaultReminderLead = time.Hour
	DefaultNoShowGrace  = 15 * time.Minute
	DefaultEndWait      = 10 * time.Minute
	DefaultRejoinGrace  = 5 * time.Minute
	DefaultHistoryLimit = 5000
)

func (p VisitPolicy) withDefaults() VisitPolicy {
	p.ReminderLead = cmp.Or(p.ReminderLead, DefaultReminderLead)
	p.NoShowGrace = cmp.Or(p.NoShowGrace, DefaultNoShowGrace)
	p.EndWait = cmp.Or(p.EndWait, DefaultEndWait)
	p.RejoinGrace = cmp.Or(p.RejoinGrace, DefaultRejoinGrace)
	p.HistoryLimit = cmp.Or(p.HistoryLimit, DefaultHistoryLimit)
	return p
}

// SessionInput starts a SessionLifecycle.
type SessionInput struct {
	Booking  session.Booking `json:"booking"`
	ClientIP string          `json:"clientIp"`
	Policy   Policy          `json:"policy"`

	// CancelOnly marks a run started by a Cancel update for a booking that had no
	// session yet: it records the cancellation and closes, so that the booking's
	// create, when it comes, finds a cancelled session.
	CancelOnly bool `json:"cancelOnly,omitempty"`
	// Carried is the state handed over by continue-as-new; nil on a first run.
	Carried *Carried `json:"carried,omitempty"`
}

// Carried is what a run hands to the next when it continues as new.
type Carried struct {
	State  State        `json:"state"`
	Events []VisitEvent `json:"events"`
	// The timers' progress.
	Reminded       bool       `json:"reminded,omitempty"`
	NextTexted     bool       `json:"nextTexted,omitempty"`
	EndRequestedAt *time.Time `json:"endRequestedAt,omitempty"`
	ClosedAt       *time.Time `json:"closedAt,omitempty"`
	EndedAt        *time.Time `json:"endedAt,omitempty"`
	NoticedStays   int        `json:"noticedStays,omitempty"`
}

// BookingTerms are the terms a booking request asks for. The CreateSession update
// compares them with the session's own: a booking cannot be rescheduled by posting it
// again.
type BookingTerms struct {
	// ScheduledStart is zero when the request left the time to the default.
	ScheduledStart  time.Time `json:"scheduledStart"`
	DurationMinutes int       `json:"durationMinutes"`
	// Fingerprint is the booking's session.Booking.Fingerprint: the patient, the
	// provider and the rest of what was asked for.
	Fingerprint string `json:"fingerprint"`
}

// Links is what the CreateSession update returns: the session and its role-separated
// meeting links.
type Links struct {
	SessionID string `json:"sessionId"`
	// MeetingID is the platform's id of the meeting, for the API's webhooks.
	MeetingID       string         `json:"meetingId,omitempty"`
	MeetingURL      string         `json:"meetingUrl"`
	ProviderURL     string         `json:"providerUrl"`
	ScheduledStart  time.Time      `json:"scheduledStart"`
	DurationMinutes int            `json:"durationMinutes"`
	Security        video.Security `json:"security"`
	TraceID         string         `json:"traceId"`
}

// Delivery is the outcome of one side effect.
type Delivery struct {
	Status DeliveryStatus `json:"status,omitempty"`
	// Error is the last failure, classified; it never holds PHI.
	Error string     `json:"error,omitempty"`
	At    *time.Time `json:"at,omitempty"`
}

// DeliveryStatus is where one side effect is.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending DeliveryStatus = "pending"
	DeliverySent    DeliveryStatus = "sent"
	DeliveryFailed  DeliveryStatus = "failed"
	DeliverySkipped DeliveryStatus = "skipped"
)

// Deliveries are the session's side effects.
type Deliveries struct {
	SessionLog   Delivery `json:"sessionLog"`
	PatientEmail Delivery `json:"patientEmail"`
	PatientSMS   Delivery `json:"patientSms"`
	StaffNotice  Delivery `json:"staffNotice"`
	Billing      Delivery `json:"billing"`
	FollowUp     Delivery `json:"followUp"`
	// The live visit's; zero on sessions of the first release.
	Reminder      Delivery `json:"reminder"`
	WaitingNotice Delivery `json:"waitingNotice"`
	NextInQueue   Delivery `json:"nextInQueue"`
	MeetingChange Delivery `json:"meetingChange"`
	PatientChange Delivery `json:"patientChange"`
	ProviderEmail Delivery `json:"providerEmail"`
	// EHR is the FHIR export at the visit's end; zero on sessions started before it.
	EHR Delivery `json:"ehr"`
}

// State is a session as the SessionQuery reports it. It carries no PHI beyond the links
// that the booking system already received.
type State struct {
	SessionID       string         `json:"sessionId"`
	BookingID       string         `json:"bookingId"`
	Fingerprint     string         `json:"bookingFingerprint"`
	Status          Status         `json:"status"`
	TraceID         string         `json:"traceId,omitempty"`
	ScheduledStart  time.Time      `json:"scheduledStart"`
	ScheduledEnd    time.Time      `json:"scheduledEnd"`
	DurationMinutes int            `json:"durationMinutes"`
	MeetingID       string         `json:"meetingId,omitempty"`
	Platform        string         `json:"platform,omitempty"`
	MeetingURL      string         `json:"meetingUrl,omitempty"`
	ProviderURL     string         `json:"providerUrl,omitempty"`
	Security        video.Security `json:"security"`
	Deliveries      Deliveries     `json:"deliveries"`
	Failure         string         `json:"failure,omitempty"`
	UpdatedAt       time.Time      `json:"updatedAt"`

	// The live visit; empty on sessions of the first release.
	ProviderID    string `json:"providerId,omitempty"`
	PatientMasked string `json:"patientMasked,omitempty"`
	// PatientKey is the opaque key that marks the patient in platform events (Zoom's
	// customer_key); a guest without any key is taken for the patient too.
	PatientKey string     `json:"patientKey,omitempty"`
	Attendance Attendance `json:"attendance"`
	// NoShow is set when the patient never came.
	NoShow bool `json:"noShow,omitempty"`
	// Cancellation is set when the session was cancelled.
	Cancellation *Cancellation `json:"cancellation,omitempty"`
	Reschedules  int           `json:"reschedules,omitempty"`
	// EventsSeen counts the distinct platform events applied; Duplicates those
	// dropped as already seen; Runs the workflow runs (continue-as-new).
	EventsSeen int `json:"eventsSeen,omitempty"`
	Duplicates int `json:"duplicates,omitempty"`
	Runs       int `json:"runs,omitempty"`
	// Recordings are the meeting's completed cloud recordings, each with its
	// retention workflow.
	Recordings []Recording `json:"recordings,omitempty"`
}

// Cancellation is why and when a session was cancelled.
type Cancellation struct {
	Reason CancelReason `json:"reason"`
	At     time.Time    `json:"at"`
}

// CancelReason is a code, not free text: it is stored in history.
type CancelReason string

// Cancel reasons.
const (
	CancelByPatient  CancelReason = "patient"
	CancelByProvider CancelReason = "provider"
	CancelByClinic   CancelReason = "clinic"
	CancelByPlatform CancelReason = "platform" // the meeting was deleted on the platform
	CancelOther      CancelReason = "other"
)

// Valid reports whether a caller may give the reason; empty means none given.
// CancelByPlatform is the workflow's own.
func (r CancelReason) Valid() bool {
	switch r {
	case "", CancelByPatient, CancelByProvider, CancelByClinic, CancelOther:
		return true
	}
	return false
}

// CancelRequest is the CancelUpdate's payload.
type CancelRequest struct {
	Reason CancelReason `json:"reason"`
}

// RescheduleRequest is the RescheduleUpdate's payload.
type RescheduleRequest struct {
	ScheduledStart time.Time `json:"scheduledStart"`
	// DurationMinutes is 15-120, or 0 to keep the duration.
	DurationMinutes int `json:"durationMinutes,omitempty"`
}

// NextInQueue is the NextInQueueSignal's payload.
type NextInQueue struct {
	// WaitingSince is when the patient entered the waiting room, as the queue saw it:
	// a session whose patient has since left and come back ignores it.
	WaitingSince time.Time `json:"waitingSince"`
}

// EventType is a platform event, named as Zoom names its webhooks.
type EventType string

// The platform events a session understands.
const (
	EventMeetingStarted    EventType = "meeting.started"
	EventMeetingEnded      EventType = "meeting.ended"
	EventMeetingDeleted    EventType = "meeting.deleted"
	EventWaitingJoined     EventType = "meeting.participant_joined_waiting_room"
	EventWaitingLeft       EventType = "meeting.participant_left_waiting_room"
	EventAdmitted          EventType = "meeting.participant_admitted"
	EventPutInWaiting      EventType = "meeting.participant_put_in_waiting_room"
	EventJoined            EventType = "meeting.participant_joined"
	EventLeft              EventType = "meeting.participant_left"
	EventRecordingStarted  EventType = "recording.started"
	EventRecordingStopped  EventType = "recording.stopped"
	EventRecordingComplete EventType = "recording.completed"
)

// Known reports whether the session understands the event.
func (e EventType) Known() bool {
	switch e {
	case EventMeetingStarted, EventMeetingEnded, EventMeetingDeleted, EventWaitingJoined,
		EventWaitingLeft, EventAdmitted, EventPutInWaiting, EventJoined, EventLeft,
		EventRecordingStarted, EventRecordingStopped, EventRecordingComplete:
		return true
	}
	return false
}

// VisitEvent is one platform event, as the VisitEventSignal carries it. It holds
// platform identifiers only: no participant name, email or phone ever gets here.
type VisitEvent struct {
	// Key identifies the event across redeliveries: the same event delivered twice
	// has the same key, and the second is dropped.
	Key  string    `json:"key"`
	Type EventType `json:"type"`
	// At is when the event happened on the platform; events apply in this order,
	// whatever order they arrive in.
	At        time.Time `json:"at"`
	MeetingID string    `json:"meetingId"`
	// Instance is the meeting instance (Zoom's uuid): a host who drops and starts
	// again opens a new one, in the same visit.
	Instance    string       `json:"instance,omitempty"`
	Participant *Participant `json:"participant,omitempty"`
	// Recording is what a recording.completed event says of the recording.
	Recording *Recording `json:"recording,omitempty"`
}

// Participant is who an event is about, by the platform's identifiers.
type Participant struct {
	// ID is this presence's id (Zoom's participant_uuid or user_id): a leave closes
	// the join with the same ID.
	ID string `json:"id"`
	// Host is set when the participant is the meeting's host: the provider.
	Host bool `json:"host,omitempty"`
	// Key is a stable identifier that outlives rejoins: Zoom's registrant_id or
	// customer_key. Empty when the platform gave none.
	Key string `json:"key,omitempty"`
}

// Role is a participant's part in the visit.
type Role string

// Roles.
const (
	RoleProvider Role = "provider"
	RolePatient  Role = "patient"
	RoleOther    Role = "other"
)

// Interval is one stretch of presence. To is nil while it is open.
type Interval struct {
	From time.Time  `json:"from"`
	To   *time.Time `json:"to,omitempty"`
}

// Wait is one stay of the patient in the waiting room.
type Wait struct {
	Entered time.Time `json:"entered"`
	// Left is when the stay ended: admitted, or gone; nil while waiting.
	Left     *time.Time `json:"left,omitempty"`
	Admitted bool       `json:"admitted"`
}

// Attendance is what happened in the visit, recomputed from the platform's events.
type Attendance struct {
	Provider    []Interval `json:"provider"`
	Patient     []Interval `json:"patient"`
	Other       []Interval `json:"other"`
	WaitingRoom []Wait     `json:"waitingRoom"`
	// WaitingSince is set while the patient is in the waiting room.
	WaitingSince *time.Time `json:"waitingSince,omitempty"`
	// TotalWaitSeconds adds up the patient's stays in the waiting room.
	TotalWaitSeconds int `json:"totalWaitSeconds"`
	// ActualStart and ActualEnd bound the meeting: its first start, its last end.
	ActualStart *time.Time `json:"actualStart,omitempty"`
	ActualEnd   *time.Time `json:"actualEnd,omitempty"`
	// Live is set while a meeting instance is running.
	Live bool `json:"live"`
	// Instances counts the meeting instances (a host's rejoin opens another).
	Instances int `json:"instances"`
	// BillableSeconds is the time the provider and the patient were both in the
	// meeting; BillableMinutes rounds it up.
	BillableSeconds int  `json:"billableSeconds"`
	BillableMinutes int  `json:"billableMinutes"`
	PatientSeen     bool `json:"patientSeen"`
	// Recording is "", "recording", "stopped" or "completed".
	Recording string `json:"recording,omitempty"`
	// MeetingDeleted is set when the platform said the meeting was deleted.
	MeetingDeleted bool `json:"meetingDeleted,omitempty"`
}

// Terms returns the terms the session was booked with.
func (s State) Terms() BookingTerms {
	return BookingTerms{
		ScheduledStart:  s.ScheduledStart,
		DurationMinutes: s.DurationMinutes,
		Fingerprint:     s.Fingerprint,
	}
}

// Links returns the session's links; they are empty until the meeting exists.
func (s State) Links() Links {
	return Links{
		SessionID:       s.SessionID,
		MeetingID:       s.MeetingID,
		MeetingURL:      s.MeetingURL,
		ProviderURL:     s.ProviderURL,
		ScheduledStart:  s.ScheduledStart,
		DurationMinutes: s.DurationMinutes,
		Security:        s.Security,
		TraceID:         s.TraceID,
	}
}

// Conflicts reports whether a request's terms differ from the session's. A zero start
// in the request means "the default", which matches any start.
func (t BookingTerms) Conflicts(with BookingTerms) bool {
	if t.DurationMinutes != with.DurationMinutes || t.Fingerprint != with.Fingerprint {
		return true
	}
	return !t.ScheduledStart.IsZero() && !t.ScheduledStart.Equal(with.ScheduledStart)
}
