package config

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/telehealth/sessions/internal/codec"
)

// Security is API access, payload encryption, host launch links, the audit log and the
// HIPAA posture.
type Security struct {
	APIKeyEnabled bool     `env:"API_KEY_ENABLED" envDefault:"false"`
	APIKeys       []string `env:"API_KEY" envSeparator:","`
	// PHIKeys are the API_KEY entries allowed to see PHI (the unmasked attendance
	// export); each must also be in API_KEY.
	PHIKeys        []string `env:"API_KEYS_PHI" envSeparator:","`
	TrustedProxies []string `env:"TRUSTED_PROXIES" envSeparator:","`

	// Payload encryption: id:base64-key entries; empty, a local key under DATA_DIR.
	PayloadKeys  string `env:"PAYLOAD_KEYS"`
	PayloadKeyID string `env:"PAYLOAD_KEY_ID"`
	// Browser origins allowed to call the codec server: the Temporal Web UI's.
	CodecOrigins []string `env:"CODEC_ALLOWED_ORIGINS" envSeparator:"," envDefault:"http://127.0.0.1:8233,http://localhost:8233"`

	// API hardening.
	AllowedOrigins []string `env:"ALLOWED_ORIGINS" envSeparator:","`
	RateLimit      float64  `env:"RATE_LIMIT_PER_SECOND" envDefault:"10"`
	RateBurst      int      `env:"RATE_LIMIT_BURST" envDefault:"20"`
	RedisURL       string   `env:"REDIS_URL"`
	IPAllowlist    []string `env:"IP_ALLOWLIST" envSeparator:","`
	WebhookSecret  string   `env:"WEBHOOK_SIGNING_SECRET"`
	TLSCertFile    string   `env:"TLS_CERT_FILE"`
	TLSKeyFile     string   `env:"TLS_KEY_FILE"`

	// Where providers reach the API: the base of the host launch links.
	PublicBaseURL string `env:"PUBLIC_BASE_URL"`

	// Audit log: PostgreSQL when set, else SQLite under DATA_DIR.
	AuditDatabaseURL string `env:"AUDIT_DATABASE_URL"`

	// HIPAA posture.
	HIPAAMode  bool     `env:"HIPAA_MODE" envDefault:"false"`
	BAAVendors []string `env:"BAA_VENDORS" envSeparator:","`
}

// MinSecretLength is the shortest API key or signing secret accepted.
const MinSecretLength = 32

func (s Security) problems() []error {
	var errs []error
	if s.APIKeyEnabled {
		if len(s.APIKeys) == 0 {
			errs = append(errs, problem("API_KEY_ENABLED is true but API_KEY is empty"))
		}
		for i, k := range s.APIKeys {
			if len(strings.TrimSpace(k)) < MinSecretLength {
				errs = append(errs,
					problem("API_KEY entry %d is shorter than 32 characters", i+1))
			}
		}
		if slices.Contains(s.AllowedOrigins, "*") {
			errs = append(errs,
				problem("ALLOWED_ORIGINS must list origins, not *, when API_KEY_ENABLED"))
		}
	}
	if !s.APIKeyEnabled && len(s.APIKeys) > 0 {
		errs = append(errs,
			problem("API_KEY is set but API_KEY_ENABLED is not true: set both, or neither"))
	}
	errs = append(errs, s.phiKeyProblems()...)
	errs = append(errs, s.payloadProblems()...)
	for _, o := range s.AllowedOrigins {
		if o != "*" && !isOrigin(o) {
			errs = append(errs, problem("ALLOWED_ORIGINS: %q is not an origin", o))
		}
	}
	for _, o := range s.CodecOrigins {
		if !isOrigin(o) {
			errs = append(errs, problem("CODEC_ALLOWED_ORIGINS: %q is not an origin", o))
		}
	}
	if s.RateLimit < 0 {
		errs = append(errs, problem("RATE_LIMIT_PER_SECOND must not be negative"))
	}
	if s.RateBurst < 1 {
		errs = append(errs, problem("RATE_LIMIT_BURST must be at least 1"))
	}
	if s.RedisURL != "" {
		if _, err := redis.ParseURL(s.RedisURL); err != nil {
			errs = append(errs, problem("REDIS_URL is not a redis:// URL"))
		}
	}
	for name, list := range map[string][]string{
		"IP_ALLOWLIST": s.IPAllowlist, "TRUSTED_PROXIES": s.TrustedProxies,
	} {
		for _, p := range list {
			if _, err := ParsePrefix(p); err != nil {
				errs = append(errs, problem("%s: %q is not an IP or CIDR", name, p))
			}
		}
	}
	if s.WebhookSecret != "" && len(s.WebhookSecret) < MinSecretLength {
		errs = append(errs, problem("WEBHOOK_SIGNING_SECRET is shorter than 32 characters"))
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		errs = append(errs, problem("TLS_CERT_FILE and TLS_KEY_FILE go together"))
	}
	if s.PublicBaseURL != "" && !isBaseURL(s.PublicBaseURL) {
		errs = append(errs, problem("PUBLIC_BASE_URL must be an http(s) URL"))
	}
	if s.AuditDatabaseURL != "" {
		if u, err := url.Parse(s.AuditDatabaseURL); err != nil ||
			(u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, problem("AUDIT_DATABASE_URL must be a postgres:// URL"))
		}
	}
	for _, v := range s.BAAVendors {
		if !slices.Contains(KnownVendors, strings.ToLower(strings.TrimSpace(v))) {
			errs = append(errs, problem("BAA_VENDORS: unknown vendor %q (known: %s)",
				v, strings.Join(KnownVendors, ", ")))
		}
	}
	if s.HIPAAMode {
		if !s.APIKeyEnabled {
			errs = append(errs, problem("HIPAA_MODE requires API_KEY_ENABLED"))
		}
		if s.PayloadKeys == "" {
			errs = append(errs, problem("HIPAA_MODE requires PAYLOAD_KEYS "+
				"(keys in custody, not the generated local key)"))
		}
	}
	return errs
}

// phiKeyProblems checks API_KEYS_PHI: only with keys on, and each entry one of
// API_KEY's. The problems name entries by position, never by value.
func (s Security) phiKeyProblems() []error {
	if len(s.PHIKeys) == 0 {
		return nil
	}
	if !s.APIKeyEnabled {
		return []error{problem("API_KEYS_PHI requires API_KEY_ENABLED")}
	}
	var errs []error
	for i, k := range s.PHIKeys {
		k = strings.TrimSpace(k)
		if !slices.ContainsFunc(s.APIKeys, func(a string) bool {
			return strings.TrimSpace(a) == k
		}) {
			errs = append(errs, problem("API_KEYS_PHI entry %d is not one of API_KEY", i+1))
		}
	}
	return errs
}

func (s Security) payloadProblems() []error {
	if s.PayloadKeys == "" {
		if s.PayloadKeyID != "" {
			return []error{problem("PAYLOAD_KEY_ID is set but PAYLOAD_KEYS is empty")}
		}
		return nil
	}
	keys, err := codec.ParseKeys(s.PayloadKeys)
	if err != nil {
		return []error{problem("PAYLOAD_KEYS: %v", err)}
	}
	if s.PayloadKeyID == "" && len(keys) > 1 {
		return []error{problem("PAYLOAD_KEY_ID must name the current key of PAYLOAD_KEYS")}
	}
	if _, ok := keys[s.PayloadKeyID]; s.PayloadKeyID != "" && !ok {
		return []error{problem("PAYLOAD_KEY_ID %q is not in PAYLOAD_KEYS", s.PayloadKeyID)}
	}
	return nil
}

// KnownVendors are the vendors BAA_VENDORS may name.
var KnownVendors = []string{
	"zoom", "doxy", "google", "sendgrid", "twilio", "slack", "teams", "billing",
	"followup", "ehr",
}

// HasBAA reports whether BAA_VENDORS names vendor.
func (s Security) HasBAA(vendor string) bool {
	return slices.ContainsFunc(s.BAAVendors, func(v string) bool {
		return strings.EqualFold(strings.TrimSpace(v), vendor)
	})
}

// Codec returns the payload codec: PAYLOAD_KEYS when set, else the local key under
// dataDir, created the first time.
func (s Security) Codec(dataDir string) (*codec.Codec, error) {
	if s.PayloadKeys == "" {
		return codec.LoadOrCreateLocal(dataDir + "/" + codec.LocalKeyFile)
	}
	keys, err := codec.ParseKeys(s.PayloadKeys)
	if err != nil {
		return nil, fmt.Errorf("PAYLOAD_KEYS: %w", err)
	}
	current := s.PayloadKeyID
	if current == "" {
		for id := range keys { // checked: exactly one
			current = id
		}
	}
	return codec.New(keys, current)
}

// ParsePrefix reads an IP or a CIDR range as a prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func isOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == ""
}

func isBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (s Security) attrs() []slog.Attr {
	return []slog.Attr{
		slog.Bool("api_key_enabled", s.APIKeyEnabled),
		slog.Int("api_keys", len(s.APIKeys)),
		slog.Int("api_keys_phi", len(s.PHIKeys)),
		slog.String("payload_keys", secret(s.PayloadKeys)),
		slog.String("payload_key_id", s.PayloadKeyID),
		slog.Any("allowed_origins", s.AllowedOrigins),
		slog.Any("codec_allowed_origins", s.CodecOrigins),
		slog.Float64("rate_limit_per_second", s.RateLimit),
		slog.Int("rate_limit_burst", s.RateBurst),
		slog.String("redis_url", secret(s.RedisURL)),
		slog.Any("ip_allowlist", s.IPAllowlist),
		slog.Any("trusted_proxies", s.TrustedProxies),
		slog.String("webhook_signing_secret", secret(s.WebhookSecret)),
		slog.Bool("tls", s.TLSCertFile != ""),
		slog.String("public_base_url", s.PublicBaseURL),
		slog.String("audit_database_url", secret(s.AuditDatabaseURL)),
		slog.Bool("hipaa_mode", s.HIPAAMode),
		slog.Any("baa_vendors", s.BAAVendors),
	}
}
