package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
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

// SendInviteEmail emails the patient their link, in plain text and HTML.
func (a *Activities) SendInviteEmail(ctx context.Context, in Invite) error {
	when := localTime(in.Start, in.Timezone)
	security := securityLines(in.Security)
	ref := Reference(in.SessionID)

	var b strings.Builder
	b.WriteString("Hello,\n\nYour secure telehealth session is ready.\n\n")
	fmt.Fprintf(&b, "Join: %s\n", in.MeetingURL)
	fmt.Fprintf(&b, "When: %s\n", when)
	fmt.Fprintf(&b, "Duration: %d minutes\n", in.DurationMinutes)
	if len(security) > 0 {
		b.WriteString("\nSecurity:\n")
		for _, l := range security {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		if in.Security.WaitingRoomEnabled {
			b.WriteString(waitingRoomLine + "\n")
		}
	}
	fmt.Fprintf(&b, "\nSession reference: %s (%s)\n", ref, in.SessionID)
	b.WriteString("\nPlease join 5 minutes early.")
	if a.Clinic.Phone != "" {
		fmt.Fprintf(&b, " Questions? Call %s.", a.Clinic.Phone)
	}
	fmt.Fprintf(&b, "\n\n%s\n", a.Clinic.Name)

	html, err := render(patientHTML, map[string]any{
		"URL": in.MeetingURL, "When": when, "Minutes": in.DurationMinutes,
		"Security": security, "WaitingRoom": in.Security.WaitingRoomEnabled,
		"WaitingRoomLine": waitingRoomLine, "Ref": ref, "SessionID": in.SessionID,
		"Phone": a.Clinic.Phone, "Clinic": a.Clinic.Name,
	})
	if err != nil {
		return err
	}
	return classify(a.Mail.SendEmail(ctx, Email{
		SessionID: in.SessionID,
		To:        in.Email,
		Subject:   "Your telehealth session link - " + a.Clinic.Name,
		Text:      b.String(),
		HTML:      html,
	}))
}

const waitingRoomLine = "You will wait in a waiting room until your provider admits you."

// ProviderInvite is what a provider is told about a session: their own link and the
// patient's name, already masked, so the full name never travels to this activity.
type ProviderInvite struct {
	SessionID       string         `json:"sessionId"`
	ProviderEmail   string         `json:"providerEmail"`
	ProviderName    string         `json:"providerName,omitempty"`
	PatientMasked   string         `json:"patientMasked,omitempty"`
	ProviderURL     string         `json:"providerUrl"`
	Start           time.Time      `json:"start"`
	Timezone        string         `json:"timezone,omitempty"`
	DurationMinutes int            `json:"durationMinutes"`
	Security        video.Security `json:"security"`
}

// SendProviderEmail emails the provider their link. The patient's name is masked in
// the subject, which mail systems show and index everywhere, and in the body too:
// the provider's own schedule has the full name.
func (a *Activities) SendProviderEmail(ctx context.Context, in ProviderInvite) error {
	if in.ProviderEmail == "" {
		return classify(&PermanentError{Err: errors.New("provider email: no address")})
	}
	patient := cmp.Or(in.PatientMasked, "a patient")
	when := localTime(in.Start, in.Timezone)
	ref := Reference(in.SessionID)
	subject := fmt.Sprintf("Telehealth session with %s - %s", patient, when)

	var b strings.Builder
	if in.ProviderName != "" {
		fmt.Fprintf(&b, "Hello %s,\n\n", in.ProviderName)
	} else {
		b.WriteString("Hello,\n\n")
	}
	fmt.Fprintf(&b, "You have a telehealth session with %s.\n\n", patient)
	fmt.Fprintf(&b, "Start the session: %s\n", in.ProviderURL)
	fmt.Fprintf(&b, "When: %s\n", when)
	fmt.Fprintf(&b, "Duration: %d minutes\n", in.DurationMinutes)
	fmt.Fprintf(&b, "Session reference: %s (%s)\n", ref, in.SessionID)
	b.WriteString("\nThis link is yours alone: do not forward it.\n")
	fmt.Fprintf(&b, "\n%s\n", a.Clinic.Name)

	html, err := render(providerHTML, map[string]any{
		"Provider": in.ProviderName, "Patient": patient, "URL": in.ProviderURL,
		"When": when, "Minutes": in.DurationMinutes, "Ref": ref,
		"SessionID": in.SessionID, "Clinic": a.Clinic.Name,
	})
	if err != nil {
		return err
	}
	return classify(a.Mail.SendEmail(ctx, Email{
		SessionID: in.SessionID,
		To:        phi.Email(in.ProviderEmail),
		Subject:   subject,
		Text:      b.String(),
		HTML:      html,
	}))
}

// Reference is a session's short reference for people to read out on the phone: the
// random part of its id, upper-cased and split in two ("A3F-7K2"). The full id goes
// with it in messages.
func Reference(sessionID string) string {
	i := strings.LastIndexByte(sessionID, '-')
	suffix := strings.ToUpper(sessionID[i+1:])
	if len(suffix) == 6 {
		return suffix[:3] + "-" + suffix[3:]
	}
	return suffix
}

var (
	patientHTML = template.Must(template.New("patient").Parse(`<!doctype html>
<html><body>
<p>Hello,</p>
<p>Your secure telehealth session is ready.</p>
<p><a href="{{.URL}}">Join your session</a></p>
<ul>
<li>When: {{.When}}</li>
<li>Duration: {{.Minutes}} minutes</li>
</ul>
{{if .Security}}<p>Security:</p>
<ul>{{range .Security}}<li>{{.}}</li>{{end}}</ul>
{{if .WaitingRoom}}<p>{{.WaitingRoomLine}}</p>{{end}}{{end}}
<p>Session reference: <strong>{{.Ref}}</strong> ({{.SessionID}})</p>
<p>Please join 5 minutes early.{{if .Phone}} Questions? Call {{.Phone}}.{{end}}</p>
<p>{{.Clinic}}</p>
</body></html>
`))
	providerHTML = template.Must(template.New("provider").Parse(`<!doctype html>
<html><body>
<p>Hello{{if .Provider}} {{.Provider}}{{end}},</p>
<p>You have a telehealth session with {{.Patient}}.</p>
<p><a href="{{.URL}}">Start the session</a></p>
<ul>
<li>When: {{.When}}</li>
<li>Duration: {{.Minutes}} minutes</li>
<li>Session reference: {{.Ref}} ({{.SessionID}})</li>
</ul>
<p>This link is yours alone: do not forward it.</p>
<p>{{.Clinic}}</p>
</body></html>
`))
)

// render fills an HTML template; html/template escapes every value.
func render(t *template.Template, data any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("email template: %w", err)
	}
	return b.String(), nil
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
