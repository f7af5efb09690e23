package app

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/fhir"
	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/internal/visits"
	"github.com/telehealth/sessions/workflows"
)

// visitPolicy is the live visit's share of the session policy.
func visitPolicy(cfg config.Config) workflows.VisitPolicy {
	return workflows.VisitPolicy{
		ReminderLead: time.Duration(cfg.ReminderLeadMinutes) * time.Minute,
		NoShowGrace:  time.Duration(cfg.NoShowGraceMinutes) * time.Minute,
		EndWait:      time.Duration(cfg.EndWaitMinutes) * time.Minute,
		RejoinGrace:  time.Duration(cfg.RejoinGraceMinutes) * time.Minute,
		HistoryLimit: cfg.HistoryLimit,
		EHRExport:    cfg.EHREnabled(),
	}
}

// visitActivities adds the live visit's dependencies: M08's reminder hook when it is
// configured, the EHR when FHIR_BASE_URL is set, and the waiting-room queue through
// Temporal.
func visitActivities(acts *activities.Activities, cfg config.Config, c client.Client) {
	if cfg.ReminderWebhookURL != "" && acts.Reminders == nil {
		acts.Reminders = &activities.ReminderWebhook{URL: cfg.ReminderWebhookURL,
			Client: &http.Client{Timeout: 15 * time.Second}}
	}
	if cfg.EHREnabled() && acts.EHR == nil {
		acts.EHR = &fhir.Client{BaseURL: cfg.FHIRBaseURL, Token: cfg.FHIRBearerToken,
			HTTP: &http.Client{Timeout: cfg.FHIRTimeout}}
	}
	if acts.Queue == nil && c != nil {
		acts.Queue = &visits.Directory{Client: c}
	}
}

// sandboxWebhook points the embedded sandbox's events at this service's own webhook
// endpoint, signed with its secret, so that a visit can be played locally.
func sandboxWebhook(opts *sandbox.Options, cfg config.Config) {
	if cfg.ZoomWebhookSecret == "" {
		return
	}
	host := cfg.BindAddr
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	opts.WebhookURL = "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Port)) +
		"/webhooks/zoom"
	opts.WebhookSecret = cfg.ZoomWebhookSecret
}
