// Package app wires the service's parts from its configuration: the activities with
// their video platform and sinks, the Temporal worker, and the API's settings. Both
// mains and the integration tests build the service through it.
package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/launch"
	"github.com/telehealth/sessions/internal/logging"
	"github.com/telehealth/sessions/internal/metrics"
	"github.com/telehealth/sessions/internal/sink"
	"github.com/telehealth/sessions/internal/temporalx"
	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/internal/visits"
	"github.com/telehealth/sessions/workflows"
)

// NewWorker returns a worker for the session workflow and its activities, with the
// given interceptors (metrics.SideEffects, for one).
func NewWorker(
	c client.Client,
	taskQueue string,
	acts *activities.Activities,
	interceptors ...interceptor.WorkerInterceptor,
) worker.Worker {
	w := worker.New(c, taskQueue, worker.Options{Interceptors: interceptors})
	if acts.Queue == nil {
		acts.Queue = &visits.Directory{Client: c} // visit.go
	}
	if acts.Retentions == nil {
		acts.Retentions = &visits.Directory{Client: c}
	}
	w.RegisterWorkflow(workflows.SessionLifecycle)
	w.RegisterWorkflowWithOptions(workflows.RecordingRetention,
		workflow.RegisterOptions{Name: workflows.RecordingRetentionWorkflow})
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
	var keys, phiKeys []string
	if cfg.APIKeyEnabled {
		keys, phiKeys = cfg.APIKeys, cfg.PHIKeys
	}
	return api.Config{
		APIKeys:         keys,
		PHIKeys:         phiKeys,
		TrustedProxies:  cfg.TrustedProxies,
		CreateWait:      cfg.CreateWait,
		DefaultDuration: cfg.DefaultDuration,
		Policy: workflows.Policy{
			BufferMinutes:   cfg.BufferMinutes,
			FollowUpDelay:   cfg.FollowUpDelay,
			SessionFeeCents: cfg.SessionFeeCents,
			NoShowFeeCents:  cfg.NoShowFeeCents,
			PastTolerance:   5 * time.Minute,
			Visit:           visitPolicy(cfg),
			RecordingRetention: time.Duration(cfg.RecordingRetentionDays) *
				24 * time.Hour,
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
	pc := o.codec
	if pc == nil {
		var err error
		if pc, err = Codec(cfg); err != nil {
			return nil, nil, err
		}
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
	// The audit log, where recording retention appends its deletions.
	auditLog, err := OpenAudit(ctx, cfg)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("audit log: %w", err)
	}
	acts.Audit = auditLog
	stopPlatform := stop
	stop = func() { _ = auditLog.Close(); stopPlatform() }
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

// Runtime is what both commands start with.
type Runtime struct {
	Config  config.Config
	Logger  *slog.Logger
	Client  client.Client
	Metrics *metrics.Metrics
	// Codec is the payload codec the client was dialled with; pass it on (WithCodec,
	// Guard) rather than build it again.
	Codec *codec.Codec
}

// Start is the start-up both commands share: it loads the configuration, builds the
// logger for the named service and its metrics registry, loads the payload keys, and
// dials Temporal with them, the SDK's metrics in that registry, and TLS when set.
func Start(service string) (*Runtime, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	level, _ := config.ParseLevel(cfg.LogLevel) // checked by Load
	logger := logging.New(os.Stdout, level).With("service", service)
	logger.Info("config loaded", "config", cfg)

	pc, err := Codec(cfg)
	if err != nil {
		return nil, err
	}
	logger.Info("payload encryption on", "key_id", pc.CurrentKeyID(),
		"key_ids", pc.KeyIDs())
	m, err := metrics.New()
	if err != nil {
		return nil, err
	}
	opts := temporalx.Options(cfg.TemporalAddress, cfg.TemporalNamespace, logger, pc)
	opts.MetricsHandler = m.Temporal()
	if opts.ConnectionOptions.TLS, err = cfg.TLSConfig(); err != nil {
		return nil, err
	}
	tc, err := client.Dial(opts)
	if err != nil {
		return nil, fmt.Errorf("dial temporal at %s: %w", cfg.TemporalAddress, err)
	}
	return &Runtime{Config: cfg, Logger: logger, Client: tc, Metrics: m, Codec: pc}, nil
}

// Codec returns the payload codec of the configuration: PAYLOAD_KEYS, or the local key
// under the data folder (created, this user's only, the first time).
func Codec(cfg config.Config) (*codec.Codec, error) {
	// The data folder holds PHI: this user's only.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	pc, err := cfg.Codec(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("payload keys: %w", err)
	}
	return pc, nil
}

// Vendors names the vendor behind each activity of acts, for the side-effect failure
// metric: a component's Vendor() if it has one, else its type's name.
func Vendors(acts *activities.Activities) metrics.VendorFunc {
	reminders := vendorOf(acts.Mail)
	if acts.Reminders != nil {
		reminders = vendorOf(acts.Reminders)
	}
	byActivity := map[string]string{
		"CreateMeeting":      vendorOf(acts.Video),
		"UpdateMeeting":      vendorOf(acts.Video),
		"EndMeeting":         vendorOf(acts.Video),
		"DeleteMeeting":      vendorOf(acts.Video),
		"RecordSession":      vendorOf(acts.Log),
		"SendInviteEmail":    vendorOf(acts.Mail),
		"SendProviderEmail":  vendorOf(acts.Mail),
		"SendVisitChange":    vendorOf(acts.Mail),
		"SendInviteSMS":      vendorOf(acts.SMS),
		"TextNextInQueue":    vendorOf(acts.SMS),
		"NotifyStaff":        vendorOf(acts.Staff),
		"TriggerBilling":     vendorOf(acts.Triggers),
		"TriggerFollowUp":    vendorOf(acts.Triggers),
		"SendReminder":       reminders,
		"PromoteNextInQueue": vendorOf(acts.Queue),
		"SendToEHR":          vendorOf(acts.EHR),
		"DeleteRecording":    vendorOf(acts.Video),
		// Temporal itself, and the audit log's database.
		"StartRetention":         "temporal",
		"AuditRecordingDeletion": "audit",
	}
	return func(activity string) string {
		if v, ok := byActivity[activity]; ok {
			return v
		}
		return "unknown"
	}
}

func vendorOf(component any) string {
	if component == nil {
		return "none"
	}
	if v, ok := component.(interface{ Vendor() string }); ok {
		return v.Vendor()
	}
	name := fmt.Sprintf("%T", component)
	if i := strings.LastIndex(name, "."); i >= 0 {
		name = name[i+1:]
	}
	return strings.ToLower(name)
}

// ServeMetrics serves /metrics, and /debug/pprof/ when profiles are enabled, on addr
// until ctx ends.
func ServeMetrics(ctx context.Context, addr string, m *metrics.Metrics, pprof bool,
	logger *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if pprof {
		metrics.RegisterPprof(mux)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	logger.Info("metrics listening", "addr", ln.Addr().String(), "pprof", pprof)
	return nil
}

// Probe is the containers' health check: it GETs url on loopback and returns the exit
// code, 0 for a 200. The images have no shell or curl, so the binaries check
// themselves (`starter healthcheck`, `worker healthcheck`).
func Probe(url string) int {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		// The API's own certificate names its public host, not 127.0.0.1: this probe
		// of the process itself, on loopback, checks that it answers, not who it is.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck:", resp.Status)
		return 1
	}
	return 0
}

// LoopbackURL returns http://127.0.0.1:port+path for a listen address such as :9464
// or 0.0.0.0:9464.
func LoopbackURL(addr, path string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		port = addr
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + path
}
