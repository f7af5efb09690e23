// Package video creates telehealth meetings on a video platform. The Zoom client here
// talks to Zoom's REST API, or to the local sandbox that speaks the same wire format.
package video

import (
	"context"
	"strconv"
	"time"
)

// MeetingRequest is what a session asks of a platform. It carries no PHI: the topic is
// built from the opaque session id, which is also the tag used to find a meeting again
// after a create call whose outcome is unknown.
type MeetingRequest struct {
	SessionID       string    `json:"sessionId"`
	Start           time.Time `json:"start"`
	DurationMinutes int       `json:"durationMinutes"`
	Timezone        string    `json:"timezone,omitempty"`

	// MayExist says that an earlier attempt for this session may have created the
	// meeting already (its outcome was unknown). The platform then looks for a meeting
	// tagged with the session id and returns it instead of creating a second one.
	// Callers set it on every attempt after the first.
	MayExist bool `json:"mayExist,omitempty"`
}

// Security is what the platform confirmed about a meeting, read from its response.
type Security struct {
	EncryptionEnabled  bool `json:"encryptionEnabled"`
	WaitingRoomEnabled bool `json:"waitingRoomEnabled"`
	RecordingEnabled   bool `json:"recordingEnabled"`
	PasscodeSet        bool `json:"passcodeSet"`
}

// Meeting is a created meeting. JoinURL is the patient's link exactly as the platform
// gave it; HostURL is the provider's start link and is a credential.
type Meeting struct {
	ID       string   `json:"id"`
	JoinURL  string   `json:"joinUrl"`
	HostURL  string   `json:"hostUrl"`
	Platform string   `json:"platform"`
	Security Security `json:"security"`
}

// Platform is a video platform. Every method is safe to call again after a failure whose
// outcome is unknown: CreateMeeting never creates a second meeting for a session id, and
// the others treat "already done" (a meeting already ended, already gone) as success.
type Platform interface {
	// CreateMeeting creates the session's meeting.
	CreateMeeting(ctx context.Context, req MeetingRequest) (Meeting, error)

	// HostLink mints a fresh host start link for a meeting. The link is a credential
	// that expires, so it is minted when the provider clicks, never stored.
	HostLink(ctx context.Context, meetingID string) (string, error)

	// UpdateMeeting moves a meeting to the request's start and duration.
	UpdateMeeting(ctx context.Context, meetingID string, req MeetingRequest) error

	// EndMeeting ends a meeting that may be in progress.
	EndMeeting(ctx context.Context, meetingID string) error

	// DeleteMeeting deletes a meeting.
	DeleteMeeting(ctx context.Context, meetingID string) error

	// DeleteRecording deletes for good the cloud recording of one meeting instance
	// (Zoom's meeting UUID). A recording already gone counts as deleted; a platform
	// that keeps no recordings answers a permanent error.
	DeleteRecording(ctx context.Context, meetingUUID string) error
}

// Error is a failed platform call, classified so that callers know whether trying again
// can help. Its message carries the operation, status and platform code, never PHI.
type Error struct {
	Op         string        // what was attempted, e.g. "create meeting"
	Status     int           // HTTP status; 0 when no response arrived
	Code       int           // the platform's own error code, when its body had one
	Message    string        // the platform's message, when it is known to hold no PHI
	Retryable  bool          // a later attempt may succeed (429, 5xx, transport faults)
	RetryAfter time.Duration // how long the platform asked us to wait, when it said
	Err        error         // the transport fault behind a Status 0 error, if any
}

// Error describes the failure by operation, status and platform code.
func (e *Error) Error() string {
	s := "video platform: " + e.Op
	if e.Status != 0 {
		s += ": status " + strconv.Itoa(e.Status)
	}
	if e.Code != 0 {
		s += " code " + strconv.Itoa(e.Code)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the transport fault, so that callers can test for
// context.DeadlineExceeded and the like. Its text is left out of Error because
// net/http puts the request URL in it.
func (e *Error) Unwrap() error { return e.Err }
