package workflows

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/internal/phi"
)

// setSummaryQuery answers the SummaryQuery from the current state. A query handler
// adds nothing to history: runs recorded before it replay unchanged.
func setSummaryQuery(ctx workflow.Context, state *State, notes phi.Text) error {
	if err := workflow.SetQueryHandler(ctx, SummaryQuery, func() (Summary, error) {
		return BuildSummary(*state, notes), nil
	}); err != nil {
		return fmt.Errorf("register summary query: %w", err)
	}
	return nil
}

// Summary is the session after the visit: its times, who was there and when, what was
// billed, how each side effect went, and a SOAP note skeleton for the provider. The
// SummaryQuery returns it; BuildSummary makes it from the State.
//
// It names the patient only masked. SOAP.Subjective carries the provider's own
// pre-session notes unmasked, by design: the summary is the provider's working copy.
// It is PHI, and never logged.
type Summary struct {
	SessionID string `json:"sessionId"`
	BookingID string `json:"bookingId"`
	Status    Status `json:"status"`
	// Final is set once the session can change no more.
	Final          bool      `json:"final"`
	ScheduledStart time.Time `json:"scheduledStart"`
	ScheduledEnd   time.Time `json:"scheduledEnd"`
	// ActualStart and ActualEnd bound the meeting; nil when it never ran (or runs).
	ActualStart   *time.Time `json:"actualStart,omitempty"`
	ActualEnd     *time.Time `json:"actualEnd,omitempty"`
	ActualMinutes int        `json:"actualMinutes"`
	// WaitSeconds adds up the patient's stays in the waiting room.
	WaitSeconds int    `json:"waitSeconds"`
	Waits       []Wait `json:"waits"`
	// Attendance is by role: provider, patient, other, in that order.
	Attendance      []RoleAttendance `json:"attendance"`
	BillableSeconds int              `json:"billableSeconds"`
	BillableMinutes int              `json:"billableMinutes"`
	NoShow          bool             `json:"noShow"`
	Cancellation    *Cancellation    `json:"cancellation,omitempty"`
	// Recording is the recording's status as the platform reported it.
	Recording string `json:"recording,omitempty"`
	// Recordings are the meeting's completed recordings, from the state.
	Recordings []SummaryRecording `json:"recordings,omitempty"`
	Deliveries []DeliveryEntry    `json:"deliveries"`
	// PatientMasked is the patient's masked name; ProviderID the provider's key.
	PatientMasked string `json:"patientMasked,omitempty"`
	ProviderID    string `json:"providerId,omitempty"`
	SOAP          SOAP   `json:"soap"`
	// AsOf is the state's last change: open intervals count up to it.
	AsOf time.Time `json:"asOf"`
}

// SummaryRecording is a completed recording as the summary names it: its opaque id,
// its files and the retention that will delete it. The download references stay in
// the session's state (and, encrypted, its history): the summary is a working copy
// that gets pasted and printed.
type SummaryRecording struct {
	ID          string    `json:"id"`
	Platform    string    `json:"platform"`
	CompletedAt time.Time `json:"completedAt"`
	// RetentionID is the workflow id of the recording's RecordingRetention.
	RetentionID string                 `json:"retentionId"`
	Files       []SummaryRecordingFile `json:"files"`
}

// SummaryRecordingFile is one file of a SummaryRecording, without its URL.
type SummaryRecordingFile struct {
	ID            string `json:"id"`
	FileType      string `json:"fileType,omitempty"`
	RecordingType string `json:"recordingType,omitempty"`
	Size          int64  `json:"size,omitempty"`
}

// summaryRecordings names the state's recordings for the summary.
func summaryRecordings(recs []Recording) []SummaryRecording {
	var out []SummaryRecording
	for _, r := range recs {
		sr := SummaryRecording{ID: r.ID, Platform: r.Platform, CompletedAt: r.CompletedAt,
			RetentionID: RetentionWorkflowID(r.ID), Files: []SummaryRecordingFile{}}
		for _, f := range r.Files {
			sr.Files = append(sr.Files, SummaryRecordingFile{ID: f.ID,
				FileType: f.FileType, RecordingType: f.RecordingType, Size: f.Size})
		}
		out = append(out, sr)
	}
	return out
}

// RoleAttendance is one role's presence in the visit.
type RoleAttendance struct {
	Role      Role            `json:"role"`
	Intervals []TimedInterval `json:"intervals"`
	// Seconds is the time present, overlapping intervals counted once.
	Seconds int  `json:"seconds"`
	Present bool `json:"present"`
	// Open is set while the role is in the meeting.
	Open bool `json:"open,omitempty"`
}

// TimedInterval is an Interval with its length; an open one counts up to AsOf.
type TimedInterval struct {
	Interval
	Seconds int `json:"seconds"`
}

// DeliveryEntry is one side effect's outcome, by name.
type DeliveryEntry struct {
	Name string `json:"name"`
	Delivery
}

// SOAP is the skeleton of the visit's clinical note. Objective is filled from the
// visit's facts; Subjective starts with the provider's pre-session notes; Assessment
// and Plan are for the provider to write.
type SOAP struct {
	Subjective string `json:"subjective"`
	Objective  string `json:"objective"`
	Assessment string `json:"assessment"`
	Plan       string `json:"plan"`
}

// BuildSummary makes the session's summary from its state and the provider's
// pre-session notes. It is pure: the same state gives the same summary.
func BuildSummary(s State, notes phi.Text) Summary {
	att := s.Attendance
	asOf := s.UpdatedAt
	if att.ActualEnd != nil && att.ActualEnd.After(asOf) {
		asOf = *att.ActualEnd
	}
	sum := Summary{
		SessionID:       s.SessionID,
		BookingID:       s.BookingID,
		Status:          s.Status,
		Final:           final(s.Status),
		ScheduledStart:  s.ScheduledStart,
		ScheduledEnd:    s.ScheduledEnd,
		ActualStart:     att.ActualStart,
		ActualEnd:       att.ActualEnd,
		WaitSeconds:     att.TotalWaitSeconds,
		Waits:           append([]Wait{}, att.WaitingRoom...),
		BillableSeconds: att.BillableSeconds,
		BillableMinutes: att.BillableMinutes,
		NoShow:          s.NoShow,
		Cancellation:    s.Cancellation,
		Recording:       att.Recording,
		Recordings:      summaryRecordings(s.Recordings),
		PatientMasked:   s.PatientMasked,
		ProviderID:      s.ProviderID,
		AsOf:            asOf,
	}
	if att.ActualStart != nil && att.ActualEnd != nil {
		sum.ActualMinutes = ceilMinutes(att.ActualEnd.Sub(*att.ActualStart))
	}
	for _, r := range []struct {
		role Role
		in   []Interval
	}{
		{RoleProvider, att.Provider}, {RolePatient, att.Patient}, {RoleOther, att.Other},
	} {
		sum.Attendance = append(sum.Attendance, roleAttendance(r.role, r.in, asOf))
	}
	sum.Deliveries = deliveryEntries(s.Deliveries)
	sum.SOAP = soap(sum, notes)
	return sum
}

func roleAttendance(role Role, in []Interval, asOf time.Time) RoleAttendance {
	ra := RoleAttendance{Role: role, Intervals: []TimedInterval{}, Present: len(in) > 0}
	for _, iv := range in {
		d := end(iv.To, asOf).Sub(iv.From)
		if d < 0 {
			d = 0
		}
		ra.Intervals = append(ra.Intervals, TimedInterval{Interval: iv,
			Seconds: int(d / time.Second)})
		if iv.To == nil {
			ra.Open = true
		}
	}
	// Overlapping presences (two devices) count once.
	var total time.Duration
	for _, sp := range union(in, asOf) {
		total += sp.to.Sub(sp.from)
	}
	ra.Seconds = int(total / time.Second)
	return ra
}

// deliveryEntries lists the side effects that the session has, in a fixed order.
func deliveryEntries(d Deliveries) []DeliveryEntry {
	all := []DeliveryEntry{
		{"sessionLog", d.SessionLog}, {"patientEmail", d.PatientEmail},
		{"patientSms", d.PatientSMS}, {"providerEmail", d.ProviderEmail},
		{"staffNotice", d.StaffNotice}, {"reminder", d.Reminder},
		{"waitingNotice", d.WaitingNotice}, {"nextInQueue", d.NextInQueue},
		{"meetingChange", d.MeetingChange}, {"patientChange", d.PatientChange},
		{"billing", d.Billing}, {"followUp", d.FollowUp},
	}
	out := []DeliveryEntry{}
	for _, e := range all {
		if e.Status != "" {
			out = append(out, e)
		}
	}
	return out
}

func soap(sum Summary, notes phi.Text) SOAP {
	var o strings.Builder
	o.WriteString("Telehealth video visit.")
	switch {
	case sum.Cancellation != nil:
		fmt.Fprintf(&o, " Cancelled (%s) before it started.", sum.Cancellation.Reason)
	case sum.NoShow:
		o.WriteString(" The patient did not attend.")
	case sum.ActualStart == nil:
		o.WriteString(" The meeting has not started.")
	default:
		for _, ra := range sum.Attendance {
			if ra.Present {
				fmt.Fprintf(&o, " %s present %d min.", roleTitle(ra.Role),
					ceilMinutes(time.Duration(ra.Seconds)*time.Second))
			}
		}
		fmt.Fprintf(&o, " Waited %d min. Billable %d min.",
			ceilMinutes(time.Duration(sum.WaitSeconds)*time.Second), sum.BillableMinutes)
	}
	return SOAP{Subjective: string(notes), Objective: o.String()}
}

func roleTitle(r Role) string {
	switch r {
	case RoleProvider:
		return "Provider"
	case RolePatient:
		return "Patient"
	}
	return "Others"
}

func ceilMinutes(d time.Duration) int {
	return int((d + time.Minute - 1) / time.Minute)
}

// Text is the summary as plain text, for a person to read. It carries the same
// fields as the JSON, the pre-session notes among them.
func (s Summary) Text() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	stamp := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	line("Session summary %s", s.SessionID)
	line("Status:          %s", s.Status)
	line("Patient:         %s", cmp.Or(s.PatientMasked, "-"))
	line("Provider:        %s", cmp.Or(s.ProviderID, "-"))
	line("Scheduled:       %s to %s", stamp(&s.ScheduledStart), stamp(&s.ScheduledEnd))
	line("Actual:          %s to %s (%d min)", stamp(s.ActualStart), stamp(s.ActualEnd),
		s.ActualMinutes)
	line("Waiting room:    %d s over %d stay(s)", s.WaitSeconds, len(s.Waits))
	line("Billable:        %d min (%d s)", s.BillableMinutes, s.BillableSeconds)
	if s.NoShow {
		line("No-show:         yes")
	}
	if c := s.Cancellation; c != nil {
		line("Cancelled:       %s at %s", c.Reason, stamp(&c.At))
	}
	if s.Recording != "" {
		line("Recording:       %s", s.Recording)
	}
	for _, r := range s.Recordings {
		line("  %s: %s, %d file(s), completed %s, retention %s", r.ID, r.Platform,
			len(r.Files), stamp(&r.CompletedAt), r.RetentionID)
	}
	line("")
	line("Attendance")
	for _, ra := range s.Attendance {
		line("  %-9s %d s", string(ra.Role)+":", ra.Seconds)
		for _, iv := range ra.Intervals {
			line("    %s to %s (%d s)", stamp(&iv.From), stamp(iv.To), iv.Seconds)
		}
	}
	line("")
	line("Deliveries")
	for _, d := range s.Deliveries {
		extra := ""
		if d.Error != "" {
			extra = " (" + d.Error + ")"
		}
		line("  %-14s %s%s", d.Name+":", d.Status, extra)
	}
	line("")
	line("SOAP note")
	for _, p := range []struct{ name, text string }{
		{"S", s.SOAP.Subjective}, {"O", s.SOAP.Objective},
		{"A", s.SOAP.Assessment}, {"P", s.SOAP.Plan},
	} {
		line("  %s: %s", p.name, strings.ReplaceAll(p.text, "\n", "\n     "))
	}
	return b.String()
}
