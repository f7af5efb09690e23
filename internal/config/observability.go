package config

import (
	"log/slog"
	"net"
)

// Observability is where the worker serves its metrics and profiles, and how many
// sessions it keeps in memory. The API serves its metrics at /metrics on its own port.
type Observability struct {
	// WorkerMetricsAddr is host:port for the worker's /metrics; empty: not served.
	WorkerMetricsAddr string `env:"WORKER_METRICS_ADDR"`
	// PprofEnabled serves /debug/pprof/ beside /metrics on the worker and on the
	// API's port.
	PprofEnabled bool `env:"PPROF_ENABLED" envDefault:"false"`
	// WorkerCacheSize is how many workflows the worker keeps in memory between their
	// tasks (the SDK's sticky cache). A session it no longer holds is rebuilt from its
	// history at its next event; a sleeping session costs its memory and nothing else.
	WorkerCacheSize int `env:"WORKER_CACHE_SIZE" envDefault:"1000"`
}

func (o Observability) problems() []error {
	var errs []error
	if o.WorkerCacheSize < 1 {
		errs = append(errs, problem("WORKER_CACHE_SIZE must be at least 1"))
	}
	if o.WorkerMetricsAddr == "" {
		return errs
	}
	if _, _, err := net.SplitHostPort(o.WorkerMetricsAddr); err != nil {
		errs = append(errs, problem("WORKER_METRICS_ADDR must be host:port: %v", err))
	}
	return errs
}

func (o Observability) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("worker_metrics_addr", o.WorkerMetricsAddr),
		slog.Bool("pprof_enabled", o.PprofEnabled),
		slog.Int("worker_cache_size", o.WorkerCacheSize),
	}
}
