package config

import (
	"log/slog"
	"net/mail"
	"net/url"
	"regexp"
	"time"
)

// Staff channel formats that NOTIFICATION_WEBHOOK_FORMAT accepts.
const (
	StaffSlack = "slack"
	StaffTeams = "teams"
)

// Vendors is where side effects go: the session log, patient messages, the staff
// channel and the billing and follow-up triggers, and the settings of the video
// platforms other than Zoom. Unset, each side effect goes to a local sink; set by half,
// start-up fails naming what is missing.
type Vendors struct {
	// Google: the Sheets session log and the Meet platform share the credentials.
	GoogleCredentials string `env:"GOOGLE_APPLICATION_CREDENTIALS"` // empty: ADC
	SheetID           string `env:"GOOGLE_SHEET_ID"`
	SheetTab          string `env:"GOOGLE_SHEET_TAB" envDefault:"Sessions"`
	SheetsAPIURL      string `env:"SHEETS_API_URL"`

	// Patient and provider email.
	SendGridAPIKey string `env:"SENDGRID_API_KEY"`
	SendGridFrom   string `env:"SENDGRID_FROM_EMAIL"`
	SendGridAPIURL string `env:"SENDGRID_API_URL"`

	// Patient SMS.
	TwilioAccountSID string `env:"TWILIO_ACCOUNT_SID"`
	TwilioAuthToken  string `env:"TWILIO_AUTH_TOKEN"`
	TwilioFrom       string `env:"TWILIO_FROM_NUMBER"`
	TwilioAPIURL     string `env:"TWILIO_API_URL"`

	// Staff channel.
	StaffWebhookURL    string `env:"NOTIFICATION_WEBHOOK_URL"`
	StaffWebhookFormat string `env:"NOTIFICATION_WEBHOOK_FORMAT" envDefault:"slack"`

	// Billing (M04) and follow-up (M05): an HTTP webhook, or signal-with-start of a
	// workflow on this Temporal cluster.
	BillingWebhookURL    string        `env:"BILLING_WEBHOOK_URL"`
	FollowUpWebhookURL   string        `env:"FOLLOWUP_WEBHOOK_URL"`
	TriggerAPIKey        string        `env:"TRIGGER_API_KEY"`
	TriggerSigningSecret string        `env:"TRIGGER_SIGNING_SECRET"`
	BillingWorkflowType  string        `env:"BILLING_WORKFLOW_TYPE"`
	BillingTaskQueue     string        `env:"BILLING_TASK_QUEUE"`
	BillingSignal        string        `env:"BILLING_SIGNAL_NAME" envDefault:"SessionEnded"`
	FollowUpWorkflowType string        `env:"FOLLOWUP_WORKFLOW_TYPE"`
	FollowUpTaskQueue    string        `env:"FOLLOWUP_TASK_QUEUE"`
	FollowUpSignal       string        `env:"FOLLOWUP_SIGNAL_NAME" envDefault:"FollowUpDue"`
	VendorTimeout        time.Duration `env:"VENDOR_TIMEOUT" envDefault:"10s"`

	// Doxy.me: the provider's persistent room, and where the provider signs in.
	DoxyRoomURL     string `env:"DOXY_ROOM_URL"`
	DoxyProviderURL string `env:"DOXY_PROVIDER_URL" envDefault:"https://doxy.me/sign-in"`

	// Google Meet through Calendar: whose calendar holds the events, and the Workspace
	// user the service account acts as (domain-wide delegation).
	MeetCalendarID string `env:"GOOGLE_MEET_CALENDAR_ID" envDefault:"primary"`
	MeetSubject    string `env:"GOOGLE_MEET_SUBJECT"`
}

// SheetsEnabled reports whether the session log goes to Google Sheets.
func (v Vendors) SheetsEnabled() bool { return v.SheetID != "" }

// SendGridEnabled reports whether email goes through SendGrid.
func (v Vendors) SendGridEnabled() bool { return v.SendGridAPIKey != "" || v.SendGridFrom != "" }

// TwilioEnabled reports whether SMS goes through Twilio.
func (v Vendors) TwilioEnabled() bool {
	return v.TwilioAccountSID != "" || v.TwilioAuthToken != "" || v.TwilioFrom != ""
}

// e164 is a phone number in E.164 form.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (v Vendors) problems() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, problem(format, args...)) }
	both := func(set bool, name, feature string) {
		if !set {
			bad("%s is required when %s is set", name, feature)
		}
	}

	if v.SheetsAPIURL != "" && !v.SheetsEnabled() {
		bad("SHEETS_API_URL is set but GOOGLE_SHEET_ID is not")
	}
	if v.SheetsEnabled() && v.SheetTab == "" {
		bad("GOOGLE_SHEET_TAB must not be empty")
	}

	if v.SendGridEnabled() {
		both(v.SendGridAPIKey != "", "SENDGRID_API_KEY", "SENDGRID_FROM_EMAIL")
		both(v.SendGridFrom != "", "SENDGRID_FROM_EMAIL", "SENDGRID_API_KEY")
		if _, err := mail.ParseAddress(v.SendGridFrom); v.SendGridFrom != "" && err != nil {
			bad("SENDGRID_FROM_EMAIL must be an email address")
		}
	} else if v.SendGridAPIURL != "" {
		bad("SENDGRID_API_URL is set but SENDGRID_API_KEY is not")
	}

	if v.TwilioEnabled() {
		for name, val := range map[string]string{
			"TWILIO_ACCOUNT_SID": v.TwilioAccountSID,
			"TWILIO_AUTH_TOKEN":  v.TwilioAuthToken,
			"TWILIO_FROM_NUMBER": v.TwilioFrom,
		} {
			if val == "" {
				bad("%s is required when any TWILIO_ variable is set", name)
			}
		}
		if v.TwilioFrom != "" && !e164.MatchString(v.TwilioFrom) {
			bad("TWILIO_FROM_NUMBER must be an E.164 number such as +15551234567")
		}
	} else if v.TwilioAPIURL != "" {
		bad("TWILIO_API_URL is set but TWILIO_ACCOUNT_SID is not")
	}

	if v.StaffWebhookFormat != StaffSlack && v.StaffWebhookFormat != StaffTeams {
		bad("NOTIFICATION_WEBHOOK_FORMAT must be %q or %q", StaffSlack, StaffTeams)
	}

	errs = append(errs, v.triggerProblems()...)
	if v.VendorTimeout <= 0 {
		bad("VENDOR_TIMEOUT must be positive")
	}
	for name, u := range map[string]string{
		"SHEETS_API_URL":           v.SheetsAPIURL,
		"SENDGRID_API_URL":         v.SendGridAPIURL,
		"TWILIO_API_URL":           v.TwilioAPIURL,
		"NOTIFICATION_WEBHOOK_URL": v.StaffWebhookURL,
		"BILLING_WEBHOOK_URL":      v.BillingWebhookURL,
		"FOLLOWUP_WEBHOOK_URL":     v.FollowUpWebhookURL,
		"DOXY_ROOM_URL":            v.DoxyRoomURL,
		"DOXY_PROVIDER_URL":        v.DoxyProviderURL,
	} {
		if u != "" && !httpURL(u) {
			bad("%s must be an http(s) URL", name)
		}
	}
	return errs
}

// triggerProblems checks the billing and follow-up triggers: each goes one way only,
// and a webhook is always signed.
func (v Vendors) triggerProblems() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, problem(format, args...)) }
	for _, t := range []struct {
		url, wfType, queue        string
		urlVar, typeVar, queueVar string
	}{
		{v.BillingWebhookURL, v.BillingWorkflowType, v.BillingTaskQueue,
			"BILLING_WEBHOOK_URL", "BILLING_WORKFLOW_TYPE", "BILLING_TASK_QUEUE"},
		{v.FollowUpWebhookURL, v.FollowUpWorkflowType, v.FollowUpTaskQueue,
			"FOLLOWUP_WEBHOOK_URL", "FOLLOWUP_WORKFLOW_TYPE", "FOLLOWUP_TASK_QUEUE"},
	} {
		switch {
		case t.url != "" && t.wfType != "":
			bad("%s and %s are both set: choose one", t.urlVar, t.typeVar)
		case t.wfType != "" && t.queue == "":
			bad("%s is required when %s is set", t.queueVar, t.typeVar)
		case t.wfType == "" && t.queue != "":
			bad("%s is required when %s is set", t.typeVar, t.queueVar)
		}
	}
	webhook := v.BillingWebhookURL != "" || v.FollowUpWebhookURL != ""
	if webhook && len(v.TriggerSigningSecret) < 32 {
		bad("TRIGGER_SIGNING_SECRET of at least 32 characters is required when " +
			"BILLING_WEBHOOK_URL or FOLLOWUP_WEBHOOK_URL is set")
	}
	if !webhook && (v.TriggerSigningSecret != "" || v.TriggerAPIKey != "") {
		bad("TRIGGER_SIGNING_SECRET or TRIGGER_API_KEY is set but no trigger webhook is")
	}
	return errs
}

// feeProblems checks the session fee against the billing module's limits: it refuses
// an amount of 0 or more than 100000 cents.
func (v Vendors) feeProblems(feeCents int) []error {
	if v.BillingWebhookURL == "" && v.BillingWorkflowType == "" {
		return nil
	}
	if feeCents < 1 || feeCents > 100000 {
		return []error{problem("SESSION_FEE_CENTS must be from 1 to 100000 " +
			"when billing is configured")}
	}
	return nil
}

// platformProblems checks the settings of the chosen video platform.
func (v Vendors) platformProblems(platform string) []error {
	switch platform {
	case PlatformDoxy:
		if v.DoxyRoomURL == "" {
			return []error{problem("DOXY_ROOM_URL is required when VIDEO_PLATFORM is doxy")}
		}
	case PlatformMeet:
		if v.MeetCalendarID == "" {
			return []error{problem("GOOGLE_MEET_CALENDAR_ID must not be empty")}
		}
	}
	return nil
}

func (v Vendors) attrs() []slog.Attr {
	return []slog.Attr{
		slog.Bool("sheets", v.SheetsEnabled()),
		slog.String("sheet_tab", v.SheetTab),
		slog.String("google_credentials", v.GoogleCredentials),
		slog.Bool("sendgrid", v.SendGridEnabled()),
		slog.String("sendgrid_api_key", secret(v.SendGridAPIKey)),
		slog.Bool("twilio", v.TwilioEnabled()),
		slog.String("twilio_auth_token", secret(v.TwilioAuthToken)),
		// Webhook URLs embed their own credentials (Slack's, Teams' signature).
		slog.String("notification_webhook_url", secret(v.StaffWebhookURL)),
		slog.String("notification_webhook_format", v.StaffWebhookFormat),
		slog.String("billing_webhook_url", secret(v.BillingWebhookURL)),
		slog.String("followup_webhook_url", secret(v.FollowUpWebhookURL)),
		slog.String("trigger_api_key", secret(v.TriggerAPIKey)),
		slog.String("trigger_signing_secret", secret(v.TriggerSigningSecret)),
		slog.String("billing_workflow_type", v.BillingWorkflowType),
		slog.String("followup_workflow_type", v.FollowUpWorkflowType),
		slog.String("vendor_timeout", v.VendorTimeout.String()),
	}
}

func httpURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Host != "" && (p.Scheme == "http" || p.Scheme == "https")
}
