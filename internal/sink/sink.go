// Package sink holds the local side-effect sinks of the embedded default: a session log
// file with the original's columns and an outbox of the messages and triggers that
// vendor clients would send. A user reads both with a text editor. PHI in them is
// masked as it would be in any log.
package sink

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

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

// SessionLog is an append-only CSV file: one row per session and status. A row for a
// session and status already in the file (an activity retried after a worker died
// between writing it and reporting it) is not written again.
type SessionLog struct {
	mu   sync.Mutex
	path string
	seen *written
}

// NewSessionLog returns a session log at path; the file and its folder are created on
// the first record.
func NewSessionLog(path string) *SessionLog {
	return &SessionLog{path: path, seen: &written{}}
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
	key := logKey(row)
	done, err := s.seen.has(key, func() ([]string, error) { return logKeys(s.path) })
	if err != nil || done {
		return closeAfter(nil, err, "session log")
	}
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
	if err := closeAfter(f, w.Error(), "session log"); err != nil {
		return err
	}
	s.seen.add(key)
	return nil
}

// Outbox is an append-only JSON-lines file of outbound messages and triggers. Each
// line carries the key of the activity that wrote it, the same for all its attempts:
// an attempt whose activity already wrote its line (the worker died between writing it
// and reporting it) does not write it again.
type Outbox struct {
	mu   sync.Mutex
	path string
	seen *written
}

// NewOutbox returns an outbox at path.
func NewOutbox(path string) *Outbox {
	return &Outbox{path: path, seen: &written{}}
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
	// Key names the activity that wrote the line: workflow, run and activity ids.
	Key string `json:"idempotency_key,omitempty"`
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
func (o *Outbox) SendEmail(ctx context.Context, m activities.Email) error {
	return o.append(ctx, Record{Channel: ChannelEmail, SessionID: m.SessionID,
		To: phi.MaskEmail(string(m.To)), Subject: m.Subject, Text: m.Text})
}

// SendSMS records a text message, its recipient masked.
func (o *Outbox) SendSMS(ctx context.Context, m activities.SMS) error {
	return o.append(ctx, Record{Channel: ChannelSMS, SessionID: m.SessionID,
		To: phi.MaskPhone(string(m.To)), Text: m.Text})
}

// Notify records a staff notice.
func (o *Outbox) Notify(ctx context.Context, n activities.StaffNotice) error {
	return o.append(ctx, Record{Channel: ChannelStaff, SessionID: n.SessionID,
		Subject: n.Title, Payload: n.Lines})
}

// TriggerBilling records the billing request, the customer's email masked.
func (o *Outbox) TriggerBilling(ctx context.Context, r activities.BillingRequest) error {
	r.CustomerEmail = phi.Email(phi.MaskEmail(string(r.CustomerEmail)))
	return o.append(ctx, Record{Channel: ChannelBilling, SessionID: r.SessionID, Payload: r})
}

// TriggerFollowUp records the follow-up request, the patient's email masked.
func (o *Outbox) TriggerFollowUp(ctx context.Context, r activities.FollowUpRequest) error {
	r.PatientEmail = phi.Email(phi.MaskEmail(string(r.PatientEmail)))
	return o.append(ctx, Record{Channel: ChannelFollowUp, SessionID: r.SessionID, Payload: r})
}

func (o *Outbox) append(ctx context.Context, r Record) error {
	r.Time = time.Now().UTC()
	r.Key = activityKey(ctx)
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	if r.Key != "" {
		done, err := o.seen.has(r.Key, func() ([]string, error) { return outboxKeys(o.path) })
		if err != nil || done {
			return closeAfter(nil, err, "outbox")
		}
	}
	f, _, err := openAppend(o.path)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if err := closeAfter(f, err, "outbox"); err != nil {
		return err
	}
	o.seen.add(r.Key)
	return nil
}

// activityKey names the activity running in ctx, the same for each of its attempts;
// "" outside an activity.
func activityKey(ctx context.Context) string {
	if !activity.IsActivity(ctx) {
		return ""
	}
	info := activity.GetInfo(ctx)
	return info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" +
		info.ActivityID
}

// written is the set of keys a sink's file holds, read from the file on first use
// (after a restart) and kept up to date after. It assumes one process writes the
// file, as in the local runs the sinks are for.
type written struct {
	keys map[string]bool
}

// has reports whether key was written; load reads the file's keys the first time.
func (w *written) has(key string, load func() ([]string, error)) (bool, error) {
	if w.keys == nil {
		keys, err := load()
		if err != nil {
			return false, err
		}
		w.keys = map[string]bool{}
		for _, k := range keys {
			w.keys[k] = true
		}
	}
	return w.keys[key], nil
}

func (w *written) add(key string) {
	if w.keys != nil && key != "" {
		w.keys[key] = true
	}
}

// outboxKeys reads the activity keys of an outbox file.
func outboxKeys(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	for line := range strings.Lines(string(b)) {
		var r struct {
			Key string `json:"idempotency_key"`
		}
		// A torn last line (a crash mid-write) holds no key worth keeping.
		if json.Unmarshal([]byte(line), &r) == nil && r.Key != "" {
			keys = append(keys, r.Key)
		}
	}
	return keys, nil
}

// logKeys reads the session-and-status keys of a session log file.
// logKey says which rows are the same record: a session in a status at a time and
// duration. A retry writes the same key again; a reschedule, a new one.
func logKey(row []string) string {
	return strings.Join([]string{row[1], row[len(row)-1], row[7], row[8]}, " ")
}

func logKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	var keys []string
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return keys, nil
		}
		if err != nil {
			// A torn last row: what came before it is what was written.
			return keys, nil
		}
		if len(row) == len(LogColumns) {
			keys = append(keys, logKey(row))
		}
	}
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

// closeAfter closes f, when there is one, and wraps the first error.
func closeAfter(f *os.File, err error, what string) error {
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
