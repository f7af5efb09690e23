package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/video"
)

// Reminders hands a reminder to the messaging module (M08) instead of sending it here.
type Reminders interface {
	TriggerReminder(ctx context.Context, r Reminder) error
}

// Queue reaches the other sessions waiting for a provider.
type Queue interface {
	// PromoteNext tells the first session in the provider's waiting room that its
	// patient is next. With waitingSessionID set, that session has just entered the
	// room: until the queue shows it, PromoteNext fails (retryably), so that a
	// visibility store running behind does not skip it.
	PromoteNext(ctx context.Context, providerID, waitingSessionID string) error
}

// MeetingRef names a session's meeting.
type MeetingRef struct {
	SessionID string `json:"sessionId"`
	MeetingID string `json:"meetingId"`
}

// EndMeeting ends the session's meeting; one already over is no failure.
func (a *Activities) EndMeeting(ctx context.Context, m MeetingRef) error {
	return classify(a.Video.EndMeeting(ctx, m.MeetingID))
}

// DeleteMeeting deletes the session's meeting; one already gone is no failure.
func (a *Activities) DeleteMeeting(ctx context.Context, m MeetingRef) error {
	return classify(a.Video.DeleteMeeting(ctx, m.MeetingID))
}

// UpdateMeetingInput moves a session's meeting.
type UpdateMeetingInput struct {
	SessionID       string    `json:"sessionId"`
	MeetingID       string    `json:"meetingId"`
	Start           time.Time `json:"start"`
	DurationMinutes int       `json:"durationMinutes"`
	Timezone        string    `json:"timezone,omitempty"`
}

// UpdateMeeting moves the session's meeting to a new start and duration.
func (a *Activities) UpdateMeeting(ctx context.Context, in UpdateMeetingInput) error {
	return classify(a.Video.UpdateMeeting(ctx, in.MeetingID, video.MeetingRequest{
		SessionID:       in.SessionID,
		Start:           in.Start,
		DurationMinutes: in.DurationMinutes,
		Timezone:        in.Timezone,
	}))
}

// Reminder is what a patient is reminded of before the visit.
type Reminder struct {
	SessionID       string    `json:"sessionId"`
	BookingID       string    `json:"bookingId"`
	Email           phi.Email `json:"email"`
	Phone           phi.Phone `json:"phone,omitempty"`
	MeetingURL      string    `json:"meetingUrl"`
	Start           time.Time `json:"start"`
	Timezone        string    `json:"timezone,omitempty"`
	DurationMinutes int       `json:"durationMinutes"`
}

// SendReminder reminds the patient of the visit: through M08 when a reminder hook is
// configured, else by email and, with a phone, SMS through the usual senders.
func (a *Activities) SendReminder(ctx context.Context, r Reminder) error {
	if a.Reminders != nil {
		return classify(a.Reminders.TriggerReminder(ctx, r))
	}
	when := localTime(r.Start, r.Timezone)
	text := fmt.Sprintf("Reminder: your telehealth visit is at %s (%d minutes).\n\n"+
		"Join: %s\n\nSession reference: %s\n\n%s\n",
		when, r.DurationMinutes, r.MeetingURL, r.SessionID, a.Clinic.Name)
	err := a.Mail.SendEmail(ctx, Email{
		SessionID: r.SessionID,
		To:        r.Email,
		Subject:   "Reminder: your telehealth visit - " + a.Clinic.Name,
		Text:      text,
	})
	if err != nil {
		return classify(err)
	}
	if r.Phone == "" {
		return nil
	}
	return classify(a.SMS.SendSMS(ctx, SMS{SessionID: r.SessionID, To: r.Phone,
		Text: fmt.Sprintf("%s: reminder, your telehealth visit is at %s. Join: %s",
			a.Clinic.Name, when, r.MeetingURL)}))
}

// Change kinds of a VisitChange.
const (
	ChangeRescheduled = "rescheduled"
	ChangeCancelled   = "cancelled"
)

// VisitChange tells a patient that their visit moved or was cancelled.
type VisitChange struct {
	Kind            string    `json:"kind"`
	SessionID       string    `json:"sessionId"`
	Email           phi.Email `json:"email"`
	Phone           phi.Phone `json:"phone,omitempty"`
	MeetingURL      string    `json:"meetingUrl,omitempty"`
	Start           time.Time `json:"start"`
	Timezone        string    `json:"timezone,omitempty"`
	DurationMinutes int       `json:"durationMinutes"`
}

// SendVisitChange emails the patient, and texts them when there is a phone.
func (a *Activities) SendVisitChange(ctx context.Context, c VisitChange) error {
	when := localTime(c.Start, c.Timezone)
	var subject, text, sms string
	switch c.Kind {
	case ChangeRescheduled:
		subject = "Your telehealth visit has moved - " + a.Clinic.Name
		text = fmt.Sprintf("Your telehealth visit is now at %s (%d minutes).\n\n"+
			"Join: %s\n", when, c.DurationMinutes, c.MeetingURL)
		sms = fmt.Sprintf("%s: your telehealth visit has moved to %s. Join: %s",
			a.Clinic.Name, when, c.MeetingURL)
	case ChangeCancelled:
		subject = "Your telehealth visit is cancelled - " + a.Clinic.Name
		text = fmt.Sprintf("Your telehealth visit of %s is cancelled.\n", when)
		sms = fmt.Sprintf("%s: your telehealth visit of %s is cancelled.",
			a.Clinic.Name, when)
	default:
		return &PermanentError{Err: fmt.Errorf("visit change: unknown kind %q", c.Kind)}
	}
	var b strings.Builder
	b.WriteString("Hello,\n\n" + text)
	fmt.Fprintf(&b, "\nSession reference: %s\n", c.SessionID)
	if a.Clinic.Phone != "" {
		fmt.Fprintf(&b, "Questions? Call %s.\n", a.Clinic.Phone)
	}
	fmt.Fprintf(&b, "\n%s\n", a.Clinic.Name)
	err := a.Mail.SendEmail(ctx, Email{SessionID: c.SessionID, To: c.Email,
		Subject: subject, Text: b.String()})
	if err != nil || c.Phone == "" {
		return classify(err)
	}
	return classify(a.SMS.SendSMS(ctx, SMS{SessionID: c.SessionID, To: c.Phone, Text: sms}))
}

// NextText tells a waiting patient that they are next.
type NextText struct {
	SessionID string    `json:"sessionId"`
	Email     phi.Email `json:"email"`
	Phone     phi.Phone `json:"phone,omitempty"`
}

// TextNextInQueue texts the patient (emails them, without a phone) that the provider
// will see them next.
func (a *Activities) TextNextInQueue(ctx context.Context, n NextText) error {
	msg := a.Clinic.Name + ": you are next in the waiting room. " +
		"Your provider will admit you shortly."
	if n.Phone != "" {
		return classify(a.SMS.SendSMS(ctx, SMS{SessionID: n.SessionID, To: n.Phone,
			Text: msg}))
	}
	return classify(a.Mail.SendEmail(ctx, Email{SessionID: n.SessionID, To: n.Email,
		Subject: "You are next - " + a.Clinic.Name, Text: msg + "\n"}))
}

// QueueInput names a provider's waiting room.
type QueueInput struct {
	SessionID  string `json:"sessionId"`
	ProviderID string `json:"providerId"`
	// Waiting says that the session's patient has just entered the waiting room.
	Waiting bool `json:"waiting,omitempty"`
}

// PromoteNextInQueue tells the first patient in the provider's waiting room that they
// are next. Without a queue (tests, tools) it does nothing.
func (a *Activities) PromoteNextInQueue(ctx context.Context, q QueueInput) error {
	if a.Queue == nil {
		return nil
	}
	waiting := ""
	if q.Waiting {
		waiting = q.SessionID
	}
	return classify(a.Queue.PromoteNext(ctx, q.ProviderID, waiting))
}

// ReminderWebhook hands reminders to the messaging module (M08) over HTTP: a JSON POST
// to URL. A 4xx other than 408 and 429 is permanent; 408, 429 and 5xx are retried,
// after the Retry-After the module asked for. Client must have a timeout.
type ReminderWebhook struct {
	URL    string
	Client *http.Client
}

// reminderTrigger is the body M08 receives. It names the message to send and whom to;
// M08 renders it.
type reminderTrigger struct {
	Type            string    `json:"type"`
	SessionID       string    `json:"session_id"`
	BookingID       string    `json:"booking_id"`
	PatientEmail    phi.Email `json:"patient_email"`
	PatientPhone    phi.Phone `json:"patient_phone,omitempty"`
	MeetingURL      string    `json:"meeting_url"`
	ScheduledStart  time.Time `json:"scheduled_start"`
	Timezone        string    `json:"timezone,omitempty"`
	DurationMinutes int       `json:"duration_minutes"`
}

// reminderVendor and reminderOp name M08's calls in errors.
const (
	reminderVendor = "reminder webhook"
	reminderOp     = "trigger reminder"
)

// TriggerReminder posts the reminder to M08.
func (w *ReminderWebhook) TriggerReminder(ctx context.Context, r Reminder) error {
	if w.Client == nil || w.Client.Timeout <= 0 {
		return vendor.Permanent(reminderVendor, reminderOp, "no client with a timeout")
	}
	body, err := json.Marshal(reminderTrigger{
		Type: "telehealth_reminder", SessionID: r.SessionID, BookingID: r.BookingID,
		PatientEmail: r.Email, PatientPhone: r.Phone, MeetingURL: r.MeetingURL,
		ScheduledStart: r.Start, Timezone: r.Timezone, DurationMinutes: r.DurationMinutes,
	})
	if err != nil {
		return vendor.Permanent(reminderVendor, reminderOp, "encode")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return vendor.Permanent(reminderVendor, reminderOp, "bad url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "reminder-"+r.SessionID+"-"+
		strconv.FormatInt(r.Start.Unix(), 10))

	resp, err := w.Client.Do(req)
	if err != nil {
		return vendor.Transport(reminderVendor, reminderOp, err)
	}
	_, _ = vendor.ReadBody(resp) // the status is the answer
	if resp.StatusCode/100 != 2 {
		return vendor.FromStatus(reminderVendor, reminderOp, resp.StatusCode, resp.Header,
			time.Now())
	}
	return nil
}
