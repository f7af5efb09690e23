package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/video"
)

// Email is a message to one recipient, in plain text and HTML.
type Email struct {
	SessionID string    `json:"sessionId"`
	To        phi.Email `json:"to"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"`
	HTML      string    `json:"html,omitempty"`
}

// SMS is a text message to one phone.
type SMS struct {
	SessionID string    `json:"sessionId"`
	To        phi.Phone `json:"to"`
	Text      string    `json:"text"`
}

// StaffNotice is a message for the staff channel. Everything in it is already masked.
type StaffNotice struct {
	SessionID string   `json:"sessionId"`
	Title     string   `json:"title"`
	Lines     []string `json:"lines"`
}

// Invite is what a patient is told about their session.
type Invite struct {
	SessionID       string         `json:"sessionId"`
	Email           phi.Email      `json:"email"`
	Phone           phi.Phone      `json:"phone,omitempty"`
	MeetingURL      string         `json:"meetingUrl"`
	Start           time.Time      `json:"start"`
	Timezone        string         `json:"timezone,omitempty"`
	DurationMinutes int            `json:"durationMinutes"`
	Security        video.Security `json:"security"`
}

// SendInviteEmail emails the patient their link.
func (a *Activities) SendInviteEmail(ctx context.Context, in Invite) error {
	var b strings.Builder
	b.WriteString("Hello,\n\nYour secure telehealth session is ready.\n\n")
	fmt.Fprintf(&b, "Join: %s\n", in.MeetingURL)
	fmt.Fprintf(&b, "When: %s\n", localTime(in.Start, in.Timezone))
	fmt.Fprintf(&b, "Duration: %d minutes\n", in.DurationMinutes)
	if lines := securityLines(in.Security); len(lines) > 0 {
		b.WriteString("\nSecurity:\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		if in.Security.WaitingRoomEnabled {
			b.WriteString("You will wait in a waiting room until your provider admits you.\n")
		}
	}
	fmt.Fprintf(&b, "\nSession reference: %s\n", in.SessionID)
	b.WriteString("\nPlease join 5 minutes early.")
	if a.Clinic.Phone != "" {
		fmt.Fprintf(&b, " Questions? Call %s.", a.Clinic.Phone)
	}
	fmt.Fprintf(&b, "\n\n%s\n", a.Clinic.Name)

	return classify(a.Mail.SendEmail(ctx, Email{
		SessionID: in.SessionID,
		To:        in.Email,
		Subject:   "Your telehealth session link - " + a.Clinic.Name,
		Text:      b.String(),
	}))
}

// SendInviteSMS texts the patient their link and time.
func (a *Activities) SendInviteSMS(ctx context.Context, in Invite) error {
	text := fmt.Sprintf("%s: your telehealth visit is at %s. Join: %s",
		a.Clinic.Name, localTime(in.Start, in.Timezone), in.MeetingURL)
	return classify(a.SMS.SendSMS(ctx, SMS{SessionID: in.SessionID, To: in.Phone, Text: text}))
}

// Notice is a staff notification about a session; its fields are masked by the
// workflow before they get here.
type Notice struct {
	SessionID    string         `json:"sessionId"`
	Event        string         `json:"event"`
	MaskedEmail  string         `json:"maskedEmail,omitempty"`
	MaskedName   string         `json:"maskedName,omitempty"`
	ProviderName string         `json:"providerName,omitempty"`
	Start        time.Time      `json:"start"`
	Security     video.Security `json:"security"`
	Failure      string         `json:"failure,omitempty"`
}

// NotifyStaff posts a masked notice to the staff channel. It never carries a meeting
// link: the patient's is the patient's, and the provider's is a credential.
func (a *Activities) NotifyStaff(ctx context.Context, n Notice) error {
	lines := []string{"Session: " + n.SessionID}
	if n.MaskedName != "" {
		lines = append(lines, "Patient: "+n.MaskedName)
	}
	if n.MaskedEmail != "" {
		lines = append(lines, "Email: "+n.MaskedEmail)
	}
	if n.ProviderName != "" {
		lines = append(lines, "Provider: "+n.ProviderName)
	}
	lines = append(lines, "Scheduled: "+n.Start.UTC().Format(time.RFC3339))
	if s := securityLines(n.Security); len(s) > 0 {
		lines = append(lines, "Security: "+strings.Join(s, ", "))
	}
	if n.Failure != "" {
		lines = append(lines, "Failure: "+n.Failure)
	}
	return classify(a.Staff.Notify(ctx, StaffNotice{
		SessionID: n.SessionID,
		Title:     n.Event,
		Lines:     lines,
	}))
}

// securityLines describes what the platform confirmed, and nothing it did not.
func securityLines(s video.Security) []string {
	var out []string
	if s.EncryptionEnabled {
		out = append(out, "encrypted")
	}
	if s.WaitingRoomEnabled {
		out = append(out, "waiting room")
	}
	if s.PasscodeSet {
		out = append(out, "passcode protected")
	}
	return out
}

// localTime formats a time in the patient's zone when it is known, else in UTC.
func localTime(t time.Time, zone string) string {
	if loc, err := time.LoadLocation(zone); zone != "" && err == nil {
		t = t.In(loc)
	} else {
		t = t.UTC()
	}
	return t.Format("Mon Jan 2, 2006 3:04 PM MST")
}
