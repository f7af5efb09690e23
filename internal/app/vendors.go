package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"go.temporal.io/sdk/client"
	"google.golang.org/api/option"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/integrations/sendgrid"
	"github.com/telehealth/sessions/internal/integrations/sheets"
	"github.com/telehealth/sessions/internal/integrations/staff"
	"github.com/telehealth/sessions/internal/integrations/triggers"
	"github.com/telehealth/sessions/internal/integrations/twilio"
	"github.com/telehealth/sessions/internal/sink"
	"github.com/telehealth/sessions/internal/video"
)

// Option adjusts what NewActivities builds.
type Option func(*options)

type options struct {
	temporal client.Client
	codec    *codec.Codec
}

// WithCodec gives the activities the payload codec already built by Start (Runtime's
// Codec), which also made the data folder; without it NewActivities builds its own.
func WithCodec(pc *codec.Codec) Option {
	return func(o *options) { o.codec = pc }
}

// WithTemporal gives the activities a Temporal client, which the billing and
// follow-up triggers need when they signal-with-start a workflow.
func WithTemporal(c client.Client) Option {
	return func(o *options) { o.temporal = c }
}

// wireVendors replaces each local sink with its vendor client where the vendor is
// configured. The configuration has been checked: a vendor here is complete.
func wireVendors(
	ctx context.Context,
	cfg config.Config,
	logger *slog.Logger,
	acts *activities.Activities,
	outbox *sink.Outbox,
	o options,
) error {
	hc := &http.Client{Timeout: cfg.VendorTimeout}
	v := cfg.Vendors

	if v.SheetsEnabled() {
		opts, err := googleOptions(ctx, cfg, v.SheetsAPIURL, "", sheets.Scope)
		if err != nil {
			return err
		}
		l, err := sheets.New(ctx, sheets.Config{
			SpreadsheetID: v.SheetID, Tab: v.SheetTab, Timeout: cfg.VendorTimeout,
		}, opts...)
		if err != nil {
			return err
		}
		acts.Log = l
	}
	if v.SendGridEnabled() {
		acts.Mail = sendgrid.New(sendgrid.Config{
			APIKey: v.SendGridAPIKey, From: v.SendGridFrom, FromName: cfg.ClinicName,
			APIURL: v.SendGridAPIURL, HTTP: hc,
		})
	}
	if v.TwilioEnabled() {
		tw, err := twilio.New(twilio.Config{
			AccountSID: v.TwilioAccountSID, AuthToken: v.TwilioAuthToken,
			From: v.TwilioFrom, APIURL: v.TwilioAPIURL, HTTP: hc,
		})
		if err != nil {
			return err
		}
		acts.SMS = tw
	}
	if v.StaffWebhookURL != "" {
		acts.Staff = staff.New(v.StaffWebhookURL, v.StaffWebhookFormat, hc)
	}

	t := &triggers.Triggers{Fallback: outbox}
	var err error
	if t.Billing, err = trigger(cfg, o, hc, triggers.KindBilling, v.BillingWebhookURL,
		v.BillingWorkflowType, v.BillingTaskQueue, v.BillingSignal); err != nil {
		return err
	}
	if t.FollowUp, err = trigger(cfg, o, hc, triggers.KindFollowUp, v.FollowUpWebhookURL,
		v.FollowUpWorkflowType, v.FollowUpTaskQueue, v.FollowUpSignal); err != nil {
		return err
	}
	acts.Triggers = t

	logger.Info("side effects wired",
		"session_log", kind(v.SheetsEnabled(), "sheets"),
		"mail", kind(v.SendGridEnabled(), "sendgrid"),
		"sms", kind(v.TwilioEnabled(), "twilio"),
		"staff", kind(v.StaffWebhookURL != "", v.StaffWebhookFormat),
		"billing", targetKind(t.Billing), "follow_up", targetKind(t.FollowUp))
	return nil
}

// trigger returns the configured target of one trigger, or nil for the outbox.
func trigger(cfg config.Config, o options, hc *http.Client,
	name, url, wfType, queue, signal string) (triggers.Target, error) {
	switch {
	case url != "":
		return &triggers.Webhook{Name: name, URL: url, APIKey: cfg.TriggerAPIKey,
			Secret: []byte(cfg.TriggerSigningSecret), HTTP: hc}, nil
	case wfType != "":
		if o.temporal == nil {
			return nil, errors.New(name + " trigger: signal-with-start needs a Temporal client")
		}
		return &triggers.Signal{Name: name, Client: o.temporal, WorkflowType: wfType,
			TaskQueue: queue, SignalName: signal}, nil
	}
	return nil, nil
}

func kind(on bool, name string) string {
	if on {
		return name
	}
	return "local"
}

func targetKind(t triggers.Target) string {
	switch t.(type) {
	case *triggers.Webhook:
		return "webhook"
	case *triggers.Signal:
		return "signal"
	}
	return "local"
}

// googleOptions builds a Google API client's options: credentials from the service
// account file GOOGLE_APPLICATION_CREDENTIALS names (its token_uri is honoured), or
// Application Default Credentials; and the endpoint, when overridden.
func googleOptions(ctx context.Context, cfg config.Config, endpoint, subject string,
	scopes ...string) ([]option.ClientOption, error) {
	do := &credentials.DetectOptions{
		Scopes:  scopes,
		Subject: subject,
		Client:  &http.Client{Timeout: cfg.VendorTimeout},
	}
	var (
		creds *auth.Credentials
		err   error
	)
	if cfg.GoogleCredentials != "" {
		creds, err = credentials.NewCredentialsFromFile(credentials.ServiceAccount,
			cfg.GoogleCredentials, do)
	} else {
		creds, err = credentials.DetectDefault(do)
	}
	if err != nil {
		return nil, fmt.Errorf("google credentials: %w", err)
	}
	opts := []option.ClientOption{option.WithAuthCredentials(creds)}
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	return opts, nil
}

// newOtherPlatform builds the platforms other than Zoom and its sandbox; nil for those.
func newOtherPlatform(ctx context.Context, cfg config.Config) (video.Platform, error) {
	switch cfg.VideoPlatform {
	case config.PlatformDoxy:
		return video.NewDoxy(video.DoxyConfig{
			RoomURL: cfg.DoxyRoomURL, ProviderURL: cfg.DoxyProviderURL,
			HTTP: &http.Client{Timeout: cfg.VideoCallTimeout},
		})
	case config.PlatformMeet:
		opts, err := googleOptions(ctx, cfg, cfg.VideoAPIURL, cfg.MeetSubject,
			video.MeetScope)
		if err != nil {
			return nil, err
		}
		return video.NewMeet(ctx, video.MeetConfig{
			CalendarID: cfg.MeetCalendarID, Timeout: cfg.VideoCallTimeout, Options: opts,
		})
	}
	return nil, nil
}
