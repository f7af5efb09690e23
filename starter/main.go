// Command starter serves the HTTP API that booking systems call to create sessions.
// "starter audit-verify" checks the audit log's hash chain instead, and exits non-zero
// when an entry was edited or deleted.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // booking time zones, on machines without a zone database

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/app"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/metrics"
	"github.com/telehealth/sessions/workflows"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		// The container's health check: the API answers and reaches Temporal.
		url := app.LoopbackURL(":"+cmp.Or(os.Getenv("PORT"), "8080"), "/healthz")
		if os.Getenv("TLS_CERT_FILE") != "" {
			url = "https" + strings.TrimPrefix(url, "http")
		}
		os.Exit(app.Probe(url))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "audit-verify" {
		if err := verifyAudit(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "audit-verify:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

// statuses are the session statuses that /metrics counts.
var statuses = []string{
	string(workflows.StatusCreating), string(workflows.StatusScheduled),
	string(workflows.StatusInProgress), string(workflows.StatusEnded),
	string(workflows.StatusCompleted), string(workflows.StatusNoShow),
	string(workflows.StatusCancelled), string(workflows.StatusFailed),
}

func run(ctx context.Context) error {
	rt, err := app.Start("api")
	if err != nil {
		return err
	}
	cfg, logger, tc := rt.Config, rt.Logger, rt.Client
	defer tc.Close()

	guard, closeGuard, err := app.Guard(ctx, cfg, logger, rt.Codec)
	if err != nil {
		return err
	}
	defer closeGuard()
	sessions := api.NewReporting(&api.Temporal{Client: tc, TaskQueue: cfg.TaskQueue,
		Converter: rt.Codec.DataConverter()}, rt.Codec.DataConverter())
	if err := rt.Metrics.Register(metrics.NewSessionsByStatus(sessions.CountByStatus,
		statuses, 15*time.Second)); err != nil {
		return err
	}
	if err := rt.Metrics.Register(metrics.NewAnalytics(sessions.Analytics,
		metrics.DefaultAnalyticsWindow, metrics.DefaultAnalyticsTTL)); err != nil {
		return err
	}
	apiCfg := app.APIConfig(cfg)
	apiCfg.Guard = guard
	apiCfg.Metrics = rt.Metrics
	handler, err := api.New(apiCfg, sessions, logger)
	if err != nil {
		return err
	}
	if cfg.PprofEnabled {
		mux := http.NewServeMux()
		metrics.RegisterPprof(mux)
		mux.Handle("/", handler)
		handler = mux
	}
	srv := &http.Server{
		Addr:              net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Port)),
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      cfg.CreateWait + 15*time.Second,
		IdleTimeout:       2 * time.Minute,
	}

	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCertFile != "" {
			errc <- srv.ListenAndServeTLS(cfg.TLSCertFile, cfg.TLSKeyFile)
			return
		}
		errc <- srv.ListenAndServe()
	}()
	logger.Info("api listening", "addr", srv.Addr, "tls", cfg.TLSCertFile != "",
		"codec_endpoint", app.PublicBaseURL(cfg)+"/codec")

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("api stopped")
	return nil
}

// verifyAudit walks the audit log's chain and prints how many entries it checked.
func verifyAudit(ctx context.Context) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	l, err := app.OpenAudit(ctx, cfg)
	if err != nil {
		return err
	}
	defer l.Close()
	n, err := l.Verify(ctx)
	if err != nil {
		return fmt.Errorf("after %d entries: %w", n, err)
	}
	fmt.Printf("audit log intact: %d entries\n", n)
	return nil
}
