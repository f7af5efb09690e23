// Package config reads the service's configuration from the environment, once, at
// start-up. Names follow the original module's documentation wherever it had one;
// defaults live in the struct tags below and nowhere else.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Video platforms that VIDEO_PLATFORM accepts.
const (
	PlatformSandbox = "sandbox"
	PlatformZoom    = "zoom"
	PlatformDoxy    = "doxy"
	PlatformMeet    = "meet"
)

// Config is the resolved configuration of the worker and the API.
type Config struct {
	// Temporal.
	TemporalAddress   string `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	TemporalNamespace string `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	TaskQueue         string `env:"TASK_QUEUE" envDefault:"telehealth-sessions"`

	// HTTP API.
	Port       int           `env:"PORT" envDefault:"8080"`
	BindAddr   string        `env:"BIND_ADDR"` // empty: every interface
	CreateWait time.Duration `env:"SESSION_CREATE_WAIT" envDefault:"10s"`

	// Session policy.
	DefaultDuration int           `env:"DEFAULT_SESSION_DURATION" envDefault:"30"`
	BufferMinutes   int           `env:"SESSION_BUFFER_MINUTES" envDefault:"5"`
	FollowUpDelay   time.Duration `env:"FOLLOW_UP_DELAY" envDefault:"24h"`
	SessionFeeCents int           `env:"SESSION_FEE_CENTS" envDefault:"0"`
	NoShowFeeCents  int           `env:"NO_SHOW_FEE_CENTS" envDefault:"0"`
	ClinicName      string        `env:"CLINIC_NAME" envDefault:"Our Clinic"`
	ClinicPhone     string        `env:"CLINIC_PHONE"`

	// Video platform.
	VideoPlatform    string        `env:"VIDEO_PLATFORM" envDefault:"sandbox"`
	VideoAPIURL      string        `env:"VIDEO_PLATFORM_API_URL"`
	ZoomOAuthURL     string        `env:"ZOOM_OAUTH_URL"`
	ZoomAccountID    string        `env:"ZOOM_ACCOUNT_ID"`
	ZoomClientID     string        `env:"ZOOM_CLIENT_ID"`
	ZoomClientSecret string        `env:"ZOOM_CLIENT_SECRET"`
	ZoomUserID       string        `env:"ZOOM_USER_ID"`
	SandboxAddr      string        `env:"SANDBOX_ADDR" envDefault:"127.0.0.1:9090"`
	VideoCallTimeout time.Duration `env:"VIDEO_PLATFORM_TIMEOUT" envDefault:"10s"`

	// Local state: the dev server's database, the session log, the outbox.
	DataDir  string `env:"DATA_DIR" envDefault:".data"`
	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`

	// Each area keeps its variables, checks and log form in a file of its own.
	Security      // security.go: API access, payload keys, audit
	Vendors       // vendors.go: session log, messaging, staff channel, triggers
	Visit         // visit.go: the live visit's webhooks and timers
	Retention     // retention.go: how long recordings are kept
	Observability // observability.go: metrics and profiles
	TemporalTLS   // temporal.go: TLS and client certificates to a Temporal cluster
	EHR           // ehr.go: the FHIR server that receives finished visits
}

// Load reads the process environment.
func Load() (Config, error) {
	return parse(env.Options{})
}

// FromMap reads the given variables instead of the process environment (for tests).
func FromMap(vars map[string]string) (Config, error) {
	return parse(env.Options{Environment: vars})
}

func parse(opts env.Options) (Config, error) {
	// Check what did parse even when something did not: every problem at once.
	cfg, err := env.ParseAsWithOptions[Config](opts)
	if err = errors.Join(err, cfg.validate()); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// validate reports every problem at once.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	errs = append(errs, c.Security.problems()...)
	errs = append(errs, c.Vendors.problems()...)
	errs = append(errs, c.Vendors.feeProblems(c.SessionFeeCents)...)
	errs = append(errs, c.Visit.problems()...)
	errs = append(errs, c.Retention.problems()...)
	errs = append(errs, c.Observability.problems()...)
	errs = append(errs, c.TemporalTLS.problems()...)
	errs = append(errs, c.EHR.problems()...)
	if c.Port < 1 || c.Port > 65535 {
		bad("PORT must be from 1 to 65535")
	}
	if c.DefaultDuration < 15 || c.DefaultDuration > 120 {
		bad("DEFAULT_SESSION_DURATION must be from 15 to 120")
	}
	if c.BufferMinutes < 0 || c.BufferMinutes > 120 {
		bad("SESSION_BUFFER_MINUTES must be from 0 to 120")
	}
	if c.FollowUpDelay < 0 {
		bad("FOLLOW_UP_DELAY must not be negative")
	}
	if c.SessionFeeCents < 0 {
		bad("SESSION_FEE_CENTS must not be negative")
	}
	// The billing module's limits; 0 bills a no-show nothing.
	if c.NoShowFeeCents < 0 || c.NoShowFeeCents > 100000 {
		bad("NO_SHOW_FEE_CENTS must be from 0 to 100000")
	}
	if c.CreateWait <= 0 {
		bad("SESSION_CREATE_WAIT must be positive")
	}
	if c.VideoCallTimeout <= 0 {
		bad("VIDEO_PLATFORM_TIMEOUT must be positive")
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		bad("LOG_LEVEL: %v", err)
	}
	for name, u := range map[string]string{
		"VIDEO_PLATFORM_API_URL": c.VideoAPIURL,
		"ZOOM_OAUTH_URL":         c.ZoomOAuthURL,
	} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || p.Host == "" ||
			(p.Scheme != "http" && p.Scheme != "https") {
			bad("%s must be an http(s) URL", name)
		}
	}

	switch c.VideoPlatform {
	case PlatformSandbox:
	case PlatformZoom:
		for name, v := range map[string]string{
			"ZOOM_ACCOUNT_ID":    c.ZoomAccountID,
			"ZOOM_CLIENT_ID":     c.ZoomClientID,
			"ZOOM_CLIENT_SECRET": c.ZoomClientSecret,
			"ZOOM_USER_ID":       c.ZoomUserID,
		} {
			if v == "" {
				bad("%s is required when VIDEO_PLATFORM is zoom", name)
			}
		}
	case PlatformDoxy, PlatformMeet:
		errs = append(errs, c.Vendors.platformProblems(c.VideoPlatform)...)
	default:
		bad("VIDEO_PLATFORM must be %q, %q, %q or %q",
			PlatformSandbox, PlatformZoom, PlatformDoxy, PlatformMeet)
	}
	// Map iteration above is unordered: sort so that the report is stable.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// Path returns a file's path under the data folder.
func (c Config) Path(name string) string {
	return filepath.Join(c.DataDir, name)
}

// ParseLevel turns LOG_LEVEL into a slog level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// LogValue prints the configuration with every secret masked.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("temporal_address", c.TemporalAddress),
		slog.String("temporal_namespace", c.TemporalNamespace),
		slog.String("task_queue", c.TaskQueue),
		slog.Int("port", c.Port),
		slog.String("video_platform", c.VideoPlatform),
		slog.String("video_api_url", c.VideoAPIURL),
		slog.String("zoom_client_id", secret(c.ZoomClientID)),
		slog.String("zoom_client_secret", secret(c.ZoomClientSecret)),
		slog.Int("default_duration", c.DefaultDuration),
		slog.Int("buffer_minutes", c.BufferMinutes),
		slog.String("follow_up_delay", c.FollowUpDelay.String()),
		slog.String("data_dir", c.DataDir),
	}
	attrs = append(attrs, c.Security.attrs()...)
	attrs = append(attrs, c.Vendors.attrs()...)
	attrs = append(attrs, c.Visit.attrs()...)
	attrs = append(attrs, c.Retention.attrs()...)
	attrs = append(attrs, c.Observability.attrs()...)
	attrs = append(attrs, c.TemporalTLS.attrs()...)
	attrs = append(attrs, c.EHR.attrs()...)
	return slog.GroupValue(attrs...)
}

// secret shows whether a secret is set, never its value.
func secret(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

// problem formats one configuration problem.
func problem(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}
