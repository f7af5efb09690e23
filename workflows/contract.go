// Package workflows holds the SessionLifecycle workflow and its public contract: the
// names and payloads of its updates and queries, which the API and the orchestration
// service use to drive and read sessions.
package workflows

import (
	"crypto/sha256"
	"encoding/hex"
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
)

// Application error types: stable strings that callers branch on.
const (
	ErrTypeInvalidBooking  = "InvalidBooking"
	ErrTypeBookingConflict = "BookingConflict"
	ErrTypeMeetingFailed   = "MeetingFailed"
)

// Search attributes the workflow keeps current, for operators in the Web UI. They hold
// ids, statuses and times only, never PHI. The server must have them registered.
var (
	SessionIDAttr      = temporal.NewSearchAttributeKeyKeyword("SessionId")
	SessionStatusAttr  = temporal.NewSearchAttributeKeyKeyword("SessionStatus")
	ScheduledStartAttr = temporal.NewSearchAttributeKeyTime("ScheduledStart")
)

// SearchAttributes maps each attribute's name to its type name, as
// `temporal server start-dev --search-attribute` takes them.
var SearchAttributes = map[string]string{
	SessionIDAttr.GetName():      "Keyword",
	SessionStatusAttr.GetName():  "Keyword",
	ScheduledStartAttr.GetName(): "Datetime",
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
	StatusCreating  Status = "CREATING"
	StatusScheduled Status = "SCHEDULED"
	StatusEnded     Status = "ENDED"
	StatusCompleted Status = "COMPLETED"
	StatusFailed    Status = "FAILED"
)

// Policy is the part of configuration that shapes a session. It travels in the input
// because workflow code must not read the environment.
type Policy struct {
	BufferMinutes   int           `json:"bufferMinutes"`
	FollowUpDelay   time.Duration `json:"followUpDelay"`
	SessionFeeCents int           `json:"sessionFeeCents"`
	// PastTolerance is how far in the past a scheduled start may be.
	PastTolerance time.Duration `json:"pastTolerance"`
}

// SessionInput starts a SessionLifecycle.
type SessionInput struct {
	Booking  session.Booking `json:"booking"`
	ClientIP string          `json:"clientIp"`
	Policy   Policy          `json:"policy"`
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
	SessionID       string         `json:"sessionId"`
	MeetingURL      string         `json:"meetingUrl"`
	ProviderURL     string         `json:"providerUrl"`
	ScheduledStart  time.Time      `json:"scheduledStart"`
	DurationMinutes int            `json:"durationMinutes"`
	Security        video.Security `json:"security"`
	TraceID         string         `json:"traceId"`
}

// Delivery is the outcome of one side effect.
type Delivery struct {
	Status DeliveryStatus `json:"status"`
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
