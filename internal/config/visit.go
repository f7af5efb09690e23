package config

import (
	"log/slog"
	"net/url"
)

// Visit is the live visit: platform webhooks and the visit's timers.
type Visit struct {
	// ZoomWebhookSecret is the Zoom app's secret token, which signs its webhooks. Empty:
	// POST /webhooks/zoom is not served.
	ZoomWebhookSecret string `env:"ZOOM_WEBHOOK_SECRET_TOKEN"`
	// ReminderLeadMinutes before the start, the patient is reminded.
	ReminderLeadMinutes int `env:"REMINDER_LEAD_MINUTES" envDefault:"60"`
	// ReminderWebhookURL, when set, gets the reminder (M08) instead of email and SMS.
	ReminderWebhookURL string `env:"REMINDER_WEBHOOK_URL"`
	// NoShowGraceMinutes after the start, a patient never seen is a no-show.
	NoShowGraceMinutes int `env:"NO_SHOW_GRACE_MINUTES" envDefault:"15"`
	// EndWaitMinutes is how long an auto-ended meeting has to report its end.
	EndWaitMinutes int `env:"SESSION_END_WAIT_MINUTES" envDefault:"10"`
	// RejoinGraceMinutes keeps a visit open after its meeting ends, for a host who
	// dropped and starts it again.
	RejoinGraceMinutes int `env:"REJOIN_GRACE_MINUTES" envDefault:"5"`
	// HistoryLimit is the history length at which a session continues as new.
	HistoryLimit int `env:"SESSION_HISTORY_LIMIT" envDefault:"5000"`
}

func (v Visit) problems() []error {
	var errs []error
	for _, r := range []struct {
		name     string
		val      int
		min, max int
	}{
		{"REMINDER_LEAD_MINUTES", v.ReminderLeadMinutes, 1, 7 * 24 * 60},
		{"NO_SHOW_GRACE_MINUTES", v.NoShowGraceMinutes, 1, 120},
		{"SESSION_END_WAIT_MINUTES", v.EndWaitMinutes, 1, 120},
		{"REJOIN_GRACE_MINUTES", v.RejoinGraceMinutes, 1, 120},
		{"SESSION_HISTORY_LIMIT", v.HistoryLimit, 200, 50000},
	} {
		if r.val < r.min || r.val > r.max {
			errs = append(errs, problem("%s must be from %d to %d", r.name, r.min, r.max))
		}
	}
	if v.ReminderWebhookURL != "" {
		if p, err := url.Parse(v.ReminderWebhookURL); err != nil || p.Host == "" ||
			(p.Scheme != "http" && p.Scheme != "https") {
			errs = append(errs, problem("REMINDER_WEBHOOK_URL must be an http(s) URL"))
		}
	}
	return errs
}

func (v Visit) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("zoom_webhook_secret_token", secret(v.ZoomWebhookSecret)),
		slog.Int("reminder_lead_minutes", v.ReminderLeadMinutes),
		slog.Bool("reminder_webhook", v.ReminderWebhookURL != ""),
		slog.Int("no_show_grace_minutes", v.NoShowGraceMinutes),
		slog.Int("session_end_wait_minutes", v.EndWaitMinutes),
		slog.Int("rejoin_grace_minutes", v.RejoinGraceMinutes),
		slog.Int("session_history_limit", v.HistoryLimit),
	}
}
