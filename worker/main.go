// Command worker runs the SessionLifecycle workflow and its activities.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // patients' time zones, on machines without a zone database

	"go.temporal.io/sdk/worker"

	"github.com/telehealth/sessions/internal/app"
	"github.com/telehealth/sessions/internal/temporalx"
	"github.com/telehealth/sessions/workflows"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		// The container's health check: the metrics server answers while the worker
		// runs.
		addr := os.Getenv("WORKER_METRICS_ADDR")
		if addr == "" {
			fmt.Fprintln(os.Stderr, "healthcheck: WORKER_METRICS_ADDR is not set: "+
				"the worker serves nothing to check")
			os.Exit(1)
		}
		os.Exit(app.Probe(app.LoopbackURL(addr, "/metrics")))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	rt, err := app.Start("worker")
	if err != nil {
		return err
	}
	cfg, logger, tc := rt.Config, rt.Logger, rt.Client
	defer tc.Close()
	if err := temporalx.EnsureSearchAttributes(ctx, tc, cfg.TemporalNamespace,
		workflows.SearchAttributes); err != nil {
		return err
	}

	acts, closeActs, err := app.NewActivities(ctx, cfg, logger,
		app.WithTemporal(tc), app.WithCodec(rt.Codec))
	if err != nil {
		return err
	}
	defer closeActs()

	if cfg.WorkerMetricsAddr != "" {
		if err := app.ServeMetrics(ctx, cfg.WorkerMetricsAddr, rt.Metrics,
			cfg.PprofEnabled, logger); err != nil {
			return err
		}
	}

	// Process-wide, and before the first worker.
	worker.SetStickyWorkflowCacheSize(cfg.WorkerCacheSize)
	w := app.NewWorker(tc, cfg.TaskQueue, acts, rt.Metrics.SideEffects(app.Vendors(acts)))
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	logger.Info("worker started", "task_queue", cfg.TaskQueue)
	<-ctx.Done()
	w.Stop()
	logger.Info("worker stopped")
	return nil
}
