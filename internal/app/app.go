// Package app wires the service's parts from its configuration: the activities with
// their video platform and sinks, the Temporal worker, and the API's settings. Both
// mains and the integration tests build the service through it.
package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/launch"
	"github.com/telehealth/sessions/internal/logging"
	"github.com/telehealth/sessions/internal/sink"
	"github.com/telehealth/sessions/internal/temporalx"
	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/internal/visits"
	"github.com/telehealth/sessions/workflows"
)

// NewWorker returns a worker for the session workflow and its activities.
func NewWorker(c client.Client, taskQueue string, acts *activities.Activities) worker.Worker {
	w := worker.New(c, taskQueue, worker.Options{})
	if acts.Queue == nil {
		acts.Queue = &visits.Directory{Client: c} // visit.go
	}
	w.RegisterWorkflow(workflows.SessionLifecycle)
	w.RegisterActivity(acts)
	return w
}

// PublicBaseURL is where providers reach the API: PUBLIC_BASE_URL, or this machine's
// address of the API.
func PublicBaseURL(cfg config.Config) string {
	if cfg.PublicBaseURL != "" {
		return cfg.PublicBaseURL
	}
	scheme, host := "http", cmp.Or(cfg.BindAddr, "127.0.0.1")
	if cfg.TLSCertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(cfg.Port))
}

// APIConfig is the API's share of the configuration, without its guard (see Guard).
func APIConfig(cfg config.Config) api.Config {
	var keys []string
	if cfg.APIKeyEnabled {
		keys = cfg.APIKeys
	}
	return api.Config{
		APIKeys:         keys,
		TrustedProxies:  cfg.TrustedProxies,
		CreateWait:      cfg.CreateWait,
		DefaultDuration: cfg.DefaultDuration,
		Policy: workflows.Policy{
			BufferMinutes:   cfg.BufferMinutes,
			FollowUpDelay:   cfg.FollowUpDelay,
			SessionFeeCents: cfg.SessionFeeCents,
			PastTolerance:   5 * time.Minute,
			Visit:           visitPolicy(cfg),
		},
		ZoomWebhookSecret: cfg.ZoomWebhookSecret,
	}
}

// NewActivities builds the activities: the configured video platform (starting the
// local sandbox when it is the platform), and for each side effect its configured
// vendor, or the local sink under the data folder when the vendor is not configured.
// The returned func releases what was started.
func NewActivities(
	ctx context.Context,
	cfg config.Config,
	logger *slog.Logger,
	opts ...Option,
) (*activities.Activities, func(), error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	// The data folder holds PHI: this user's only.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("data folder: %w", err)
	}
	pc, err := Codec(cfg)
	if err != nil {
		return nil, nil, err
	}
	platform, stop, err := newPlatform(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	outbox := sink.NewOutbox(cfg.Path("outbox.jsonl"))
	acts := &activities.Activities{
		Video:    platform,
		Launch:   launch.New(PublicBaseURL(cfg), pc),
		Log:      sink.NewSessionLog(cfg.Path("sessions.csv")),
		Mail:     outbox,
		SMS:      outbox,
		Staff:    outbox,
		Triggers: outbox,
		Clinic:   activities.Clinic{Name: cfg.ClinicName, Phone: cfg.ClinicPhone},
	}
	if err := wireVendors(ctx, cfg, logger, acts, outbox, o); err != nil {
		stop()
		return nil, nil, err
	}
	visitActivities(acts, cfg, nil)
	return acts, stop, nil
}

// Sandbox credentials: the sandbox runs inside the worker, so these never leave it.
const (
	sandboxAccount = "sandbox-account"
	sandboxClient  = "sandbox-client"
	sandboxSecret  = "sandbox-secret"
	sandboxHost    = "host@sandbox.local"
)

// newPlatform returns the configured video platform. For the sandbox without an API URL
// of its own, it serves the sandbox on SANDBOX_ADDR and points the Zoom client there,
// so the default run exercises the real Zoom client code.
func newPlatform(
	ctx context.Context,
	cfg config.Config,
	logger *slog.Logger,
) (video.Platform, func(), error) {
	zc := zoomConfig(cfg, logger)
	if p, err := newOtherPlatform(ctx, cfg); p != nil || err != nil {
		return p, func() {}, err
	}
	if cfg.VideoPlatform == config.PlatformZoom || cfg.VideoAPIURL != "" {
		return video.NewZoom(zc), func() {}, nil
	}

	opts := sandbox.Options{
		AccountID:    sandboxAccount,
		ClientID:     sandboxClient,
		ClientSecret: sandboxSecret,
		StatePath:    cfg.Path("sandbox-meetings.json"),
	}
	sandboxWebhook(&opts, cfg)
	sb, err := sandbox.New(opts)
	if err != nil {
		return nil, nil, err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.SandboxAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: %w", err)
	}
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("video sandbox listening", "addr", ln.Addr().String())
	onSandbox(&zc, "http://"+ln.Addr().String())
	return video.NewZoom(zc), func() { _ = srv.Close() }, nil
}

// onSandbox points a Zoom client at the sandbox at base.
func onSandbox(zc *video.ZoomConfig, base string) {
	zc.APIURL, zc.OAuthURL = base+"/v2", base+"/oauth/token"
	zc.AccountID, zc.ClientID, zc.ClientSecret = sandboxAccount, sandboxClient, sandboxSecret
	zc.UserID = sandboxHost
}

// HostLinker is the API's client of the video platform, which mints host start links
// at launch: the configured platform, or the sandbox that the worker serves on
// SANDBOX_ADDR.
func HostLinker(
	ctx context.Context,
	cfg config.Config,
	logger *slog.Logger,
) (api.HostLinker, error) {
	if p, err := newOtherPlatform(ctx, cfg); p != nil || err != nil {
		return p, err
	}
	zc := zoomConfig(cfg, logger)
	if cfg.VideoPlatform != config.PlatformZoom && cfg.VideoAPIURL == "" {
		onSandbox(&zc, "http://"+cfg.SandboxAddr)
	}
	return video.NewZoom(zc), nil
}

func zoomConfig(cfg config.Config, logger *slog.Logger) video.ZoomConfig {
	return video.ZoomConfig{
		APIURL:       cfg.VideoAPIURL,
		OAuthURL:     cfg.ZoomOAuthURL,
		AccountID:    cfg.ZoomAccountID,
		ClientID:     cfg.ZoomClientID,
		ClientSecret: cfg.ZoomClientSecret,
		UserID:       cfg.ZoomUserID,
		HTTPClient:   &http.Client{Timeout: cfg.VideoCallTimeout},
		Logger:       logger,
	}
}

// Start is the start-up both commands share: it loads the configuration, builds the
// logger for the named service, loads the payload keys and dials Temporal with them.
func Start(service string) (config.Config, *slog.Logger, client.Client, error) {
	cfg, err := config.Load()
	if err != nil {
		return config.Config{}, nil, nil, err
	}
	level, _ := config.ParseLevel(cfg.LogLevel) // checked by Load
	logger := logging.New(os.Stdout, level).With("service", service)
	logger.Info("config loaded", "config", cfg)

	pc, err := Codec(cfg)
	if err != nil {
		return config.Config{}, nil, nil, err
	}
	logger.Info("payload encryption on", "key_id", pc.CurrentKeyID(),
		"key_ids", pc.KeyIDs())
	tc, err := temporalx.Dial(cfg.TemporalAddress, cfg.TemporalNamespace, logger, pc)
	if err != nil {
		return config.Config{}, nil, nil, err
	}
	return cfg, logger, tc, nil
}

// Codec returns the payload codec of the configuration: PAYLOAD_KEYS, or the local key
// under the data folder (created, this user's only, the first time).
func Codec(cfg config.Config) (*codec.Codec, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	pc, err := cfg.Codec(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("payload keys: %w", err)
	}
	return pc, nil
}
