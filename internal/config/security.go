package config

import (
	"log/slog"
	"strings"
)

// Security is API access, payload encryption and the audit log.
type Security struct {
	APIKeyEnabled  bool     `env:"API_KEY_ENABLED" envDefault:"false"`
	APIKeys        []string `env:"API_KEY" envSeparator:","`
	TrustedProxies []string `env:"TRUSTED_PROXIES" envSeparator:","`
}

func (s Security) problems() []error {
	var errs []error
	if s.APIKeyEnabled {
		if len(s.APIKeys) == 0 {
			errs = append(errs, problem("API_KEY_ENABLED is true but API_KEY is empty"))
		}
		for i, k := range s.APIKeys {
			if len(strings.TrimSpace(k)) < 32 {
				errs = append(errs,
					problem("API_KEY entry %d is shorter than 32 characters", i+1))
			}
		}
	}
	if !s.APIKeyEnabled && len(s.APIKeys) > 0 {
		errs = append(errs,
			problem("API_KEY is set but API_KEY_ENABLED is not true: set both, or neither"))
	}
	return errs
}

func (s Security) attrs() []slog.Attr {
	return []slog.Attr{
		slog.Bool("api_key_enabled", s.APIKeyEnabled),
		slog.Int("api_keys", len(s.APIKeys)),
	}
}
