// Package sink holds the local side-effect sinks of the embedded default: a session log
// file with the original's columns and an outbox of the messages and triggers that
// vendor clients would send. A user reads both with a text editor. PHI in them is
// masked as it would be in any log.
package sink

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/phi"
)

// LogColumns are the session log's columns, in the original's documented order.
var LogColumns = []string{
	"timestamp", "session_id", "booking_id", "meeting_id", "patient_email",
	"meeting_url", "provider_url", "scheduled_start", "duration_minutes",
	"encryption_enabled", "waiting_room_enabled", "recording_enabled", "client_ip",
	"status",
}

// SessionLog is an append-only CSV file: one row per session and status.
type SessionLog struct {
	mu   sync.Mutex
	path string
}

// NewSessionLog returns a session log at path; the file and its folder are created on
// the first record.
func NewSessionLog(path string) *SessionLog {
	return &SessionLog{path: path}
}

// Record appends a row. The patient's email is masked and the links, which carry
// the meeting's passcode and the host's token, keep only their host and path.
func (s *SessionLog) Record(_ context.Context, r activities.LogRow) error {
	row := []string{
		r.Timestamp.UTC().Format(time.RFC3339Nano),
		r.SessionID,
		r.BookingID,
		r.MeetingID,
		phi.MaskEmail(string(r.PatientEmail)),
		phi.RedactURL(r.MeetingURL),
		phi.RedactURL(r.ProviderURL),
		r.ScheduledStart.UTC().Format(time.RFC3339),
		strconv.Itoa(r.DurationMinutes),
		strconv.FormatBool(r.EncryptionEnabled),
		strconv.FormatBool(r.WaitingRoomEnabled),
		strconv.FormatBool(r.RecordingEnabled),
		r.ClientIP,
		r.Status,
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	f, fresh, err := openAppend(s.path)
	if err != nil {
		return fmt.Errorf("session log: %w", err)
	}
	w := csv.NewWriter(f)
	if fresh {
		_ = w.Write(LogColumns)
	}
	_ = w.Write(row)
	w.Flush()
	return closeAfter(f, w.Error(), "session log")
}

// Outbox is an append-only JSON-lines file of outbound messages and triggers.
type Outbox struct {
	mu   sync.Mutex
	path string
}

// NewOutbox returns an outbox at path.
func NewOutbox(path string) *Outbox {
	return &Outbox{path: path}
}

// Record is one outbox line.
type Record struct {
	Time      time.Time `json:"time"`
	Channel   string    `json:"channel"`
	SessionID string    `json:"session_id"`
	To        string    `json:"to,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Text      string    `json:"text,omitempty"`
	Payload   any       `json:"payload,omitempty"`
}

// Outbox channels.
const (
	ChannelEmail    = "email"
	ChannelSMS      = "sms"
	ChannelStaff    = "staff"
	ChannelBilling  = "billing"
	ChannelFollowUp = "follow_up"
)

// SendEmail records an email, its recipient masked.
func (o *Outbox) SendEmail(_ context.Context, m activities.Email) error {
	return o.append(Record{Channel: ChannelEmail, SessionID: m.SessionID,
		To: phi.MaskEmail(string(m.To)), Subject: m.Subject, Text: m.Text})
}

// SendSMS records a text message, its recipient masked.
func (o *Outbox) SendSMS(_ context.Context, m activities.SMS) error {
	return o.append(Record{Channel: ChannelSMS, SessionID: m.SessionID,
		To: phi.MaskPhone(string(m.To)), Text: m.Text})
}

// Notify records a staff notice.
func (o *Outbox) Notify(_ context.Context, n activities.StaffNotice) error {
	return o.append(Record{Channel: ChannelStaff, SessionID: n.SessionID,
		Subject: n.Title, Payload: n.Lines})
}

// TriggerBilling records the billing request, the customer's email masked.
func (o *Outbox) TriggerBilling(_ context.Context, r activities.BillingRequest) error {
	r.CustomerEmail = phi.Email(phi.MaskEmail(string(r.CustomerEmail)))
	return o.append(Record{Channel: ChannelBilling, SessionID: r.SessionID, Payload: r})
}

// TriggerFollowUp records the follow-up request, the patient's email masked.
func (o *Outbox) TriggerFollowUp(_ context.Context, r activities.FollowUpRequest) error {
	r.PatientEmail = phi.Email(phi.MaskEmail(string(r.PatientEmail)))
	return o.append(Record{Channel: ChannelFollowUp, SessionID: r.SessionID, Payload: r})
}

func (o *Outbox) append(r Record) error {
	r.Time = time.Now().UTC()
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	f, _, err := openAppend(o.path)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	return closeAfter(f, err, "outbox")
}

// openAppend opens path for appending, creating it and its folder; fresh reports
// whether the file was empty.
func openAppend(path string) (f *os.File, fresh bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	f, err = os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, false, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, false, err
	}
	return f, st.Size() == 0, nil
}

func closeAfter(f *os.File, err error, what string) error {
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
