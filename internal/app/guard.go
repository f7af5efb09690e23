package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/audit"
	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/compliance"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/launch"
	"github.com/telehealth/sessions/internal/ratelimit"
)

// Guard builds the API's access hardening from the configuration: the codec server,
// launch links, rate limiter (Redis when REDIS_URL is set), audit log and compliance
// posture. It refuses, naming them, vendors that HIPAA_MODE does not allow. The
// returned func releases the connections.
func Guard(
	ctx context.Context,
	cfg config.Config,
	logger *slog.Logger,
	pc *codec.Codec,
) (api.Guard, func(), error) {
	posture, err := compliance.Resolve(cfg)
	if err != nil {
		return api.Guard{}, nil, err
	}
	logger.Info("compliance posture", "hipaa_mode", posture.HIPAAMode,
		"payload_encryption", posture.PayloadEncryption, "audit", posture.Audit,
		"vendors", posture.Vendors, "local_sinks", posture.Local)

	hosts, err := HostLinker(ctx, cfg, logger)
	if err != nil {
		return api.Guard{}, nil, err
	}
	g := api.Guard{
		AllowedOrigins: cfg.AllowedOrigins,
		WebhookSecret:  cfg.WebhookSecret,
		Codec:          pc,
		CodecOrigins:   cfg.CodecOrigins,
		Launch:         launch.New(PublicBaseURL(cfg), pc),
		Hosts:          hosts,
		Compliance:     posture,
	}
	for _, p := range cfg.IPAllowlist {
		prefix, _ := config.ParsePrefix(p) // checked by Load
		g.IPAllowlist = append(g.IPAllowlist, prefix)
	}
	var closers []func() error
	release := func() {
		for _, c := range closers {
			_ = c()
		}
	}

	if cfg.RateLimit > 0 {
		if cfg.RedisURL != "" {
			r, err := ratelimit.NewRedis(cfg.RedisURL, cfg.RateLimit, cfg.RateBurst,
				"telehealth:ratelimit:")
			if err != nil {
				return api.Guard{}, nil, err
			}
			closers = append(closers, r.Close)
			g.Limiter = r
		} else {
			g.Limiter = ratelimit.NewLocal(cfg.RateLimit, cfg.RateBurst)
		}
	}

	if g.Audit, err = OpenAudit(ctx, cfg); err != nil {
		release()
		return api.Guard{}, nil, fmt.Errorf("audit log: %w", err)
	}
	closers = append(closers, g.Audit.Close)
	return g, release, nil
}

// OpenAudit opens the configured audit log, for the verify command.
func OpenAudit(ctx context.Context, cfg config.Config) (*audit.Log, error) {
	if cfg.AuditDatabaseURL != "" {
		return audit.OpenPostgres(ctx, cfg.AuditDatabaseURL)
	}
	return audit.OpenSQLite(ctx, cfg.Path("audit.db"))
}
