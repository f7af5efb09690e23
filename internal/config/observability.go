package config

import (
	"log/slog"
	"net"
)

// Observability is where the worker serves its metrics and profiles. The API serves
// its metrics at /metrics on its own port.
type Observability struct {
	// WorkerMetricsAddr is host:port for the worker's /metrics; empty: not served.
	WorkerMetricsAddr string `env:"WORKER_METRICS_ADDR"`
	// PprofEnabled serves /debug/pprof/ beside /metrics on the worker and on the
	// API's port.
	PprofEnabled bool `env:"PPROF_ENABLED" envDefault:"false"`
}

func (o Observability) problems() []error {
	if o.WorkerMetricsAddr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(o.WorkerMetricsAddr); err != nil {
		return []error{problem("WORKER_METRICS_ADDR must be host:port: %v", err)}
	}
	return nil
}

func (o Observability) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("worker_metrics_addr", o.WorkerMetricsAddr),
		slog.Bool("pprof_enabled", o.PprofEnabled),
	}
}
