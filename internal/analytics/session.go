// Package analytics reads sessions over a date range for the attendance export and the
// analytics module (M07): the non-PHI facts of each session (Session, from its
// workflow state), the figures computed from them (Compute), and the source that lists
// them from Temporal's visibility store (Source). The patient's name and email are read
// only on request, for an export by a key allowed to see PHI (Source.Contact).
package analytics

import (
	"time"

	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/workflows"
)

// Session is what the export and the analytics know of one session: ids, times,
// statuses and counts. It holds no PHI: the patient appears by masked name only.
type Session struct {
	// WorkflowID and RunID name the run that carries the session (hashes, no PHI).
	WorkflowID string `json:"-"`
	RunID      string `json:"-"`

	SessionID       string           `json:"sessionId"`
	Status          workflows.Status `json:"status"`
	ProviderID      string           `json:"providerId,omitempty"`
	PatientMasked   string           `json:"patientMasked,omitempty"`
	ScheduledStart  time.Time        `json:"scheduledStart"`
	ScheduledEnd    time.Time        `json:"scheduledEnd"`
	DurationMinutes int              `json:"durationMinutes"`
	MeetingCreated  bool             `json:"meetingCreated"`
	ActualStart     *time.Time       `json:"actualStart,omitempty"`
	ActualEnd       *time.Time       `json:"actualEnd,omitempty"`
	// ActualMinutes is the meeting's length rounded up; 0 until it has ended.
	ActualMinutes   int  `json:"actualMinutes"`
	WaitSeconds     int  `json:"waitSeconds"`
	WaitStays       int  `json:"waitStays"`
	BillableSeconds int  `json:"billableSeconds"`
	BillableMinutes int  `json:"billableMinutes"`
	NoShow          bool `json:"noShow"`
	// Abandoned is a patient who waited in the waiting room, was never admitted, never
	// joined the meeting, and is no longer waiting (see IsAbandoned).
	Abandoned    bool                   `json:"abandoned"`
	CancelReason workflows.CancelReason `json:"cancelReason,omitempty"`
	// Roles are the provider's, the patient's and the others' presence, in that order.
	Roles []Role `json:"roles"`
	// Security is what the platform confirmed of the meeting's settings.
	Security video.Security `json:"security"`
	// Recording is the platform's last word on the recording ("", "recording",
	// "stopped", "completed"); Recordings counts the completed recordings kept.
	Recording  string    `json:"recording,omitempty"`
	Recordings int       `json:"recordings"`
	AsOf       time.Time `json:"asOf"`
}

// Role is one role's presence, summarised.
type Role struct {
	Role      workflows.Role `json:"role"`
	Intervals int            `json:"intervals"`
	// Seconds is the time present, overlapping intervals counted once.
	Seconds int  `json:"seconds"`
	Open    bool `json:"open,omitempty"`
}

// FromState takes a session's facts from its workflow state, as the attendance route
// shows them (workflows.BuildSummary, without notes).
func FromState(s workflows.State) Session {
	sum := workflows.BuildSummary(s, "")
	out := Session{
		SessionID:       s.SessionID,
		Status:          s.Status,
		ProviderID:      s.ProviderID,
		PatientMasked:   s.PatientMasked,
		ScheduledStart:  s.ScheduledStart,
		ScheduledEnd:    s.ScheduledEnd,
		DurationMinutes: s.DurationMinutes,
		MeetingCreated:  s.MeetingID != "",
		ActualStart:     sum.ActualStart,
		ActualEnd:       sum.ActualEnd,
		ActualMinutes:   sum.ActualMinutes,
		WaitSeconds:     sum.WaitSeconds,
		WaitStays:       len(sum.Waits),
		BillableSeconds: sum.BillableSeconds,
		BillableMinutes: sum.BillableMinutes,
		NoShow:          s.NoShow || s.Status == workflows.StatusNoShow,
		Abandoned:       IsAbandoned(s),
		Security:        s.Security,
		Recording:       s.Attendance.Recording,
		Recordings:      len(s.Recordings),
		AsOf:            sum.AsOf,
		Roles:           make([]Role, 0, len(sum.Attendance)),
	}
	if s.Cancellation != nil {
		out.CancelReason = s.Cancellation.Reason
	}
	for _, r := range sum.Attendance {
		out.Roles = append(out.Roles, Role{Role: r.Role, Intervals: len(r.Intervals),
			Seconds: r.Seconds, Open: r.Open})
	}
	return out
}

// IsAbandoned reports a waiting-room abandonment: the patient entered the waiting room
// at least once, was never admitted, never joined the meeting, and is not waiting now.
func IsAbandoned(s workflows.State) bool {
	a := s.Attendance
	if len(a.WaitingRoom) == 0 || len(a.Patient) > 0 || a.WaitingSince != nil {
		return false
	}
	for _, w := range a.WaitingRoom {
		if w.Admitted || w.Left == nil {
			return false
		}
	}
	return true
}

// Role returns the presence of one role; zero when the session has none.
func (s Session) Role(role workflows.Role) Role {
	for _, r := range s.Roles {
		if r.Role == role {
			return r
		}
	}
	return Role{Role: role}
}

// Concluded reports a session whose visit is decided: it took place and ended, or the
// patient did not come. Cancelled, failed and not yet finished sessions are not.
func (s Session) Concluded() bool {
	switch s.Status {
	case workflows.StatusEnded, workflows.StatusCompleted, workflows.StatusNoShow:
		return true
	}
	return false
}

// Missed reports a concluded session the patient missed: a no-show, or a waiting-room
// abandonment.
func (s Session) Missed() bool {
	return s.Concluded() && (s.NoShow || s.Abandoned)
}
