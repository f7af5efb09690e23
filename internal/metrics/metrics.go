// Package metrics is the service's Prometheus instrumentation: one registry per
// process, served at /metrics, holding the Temporal SDK's metrics (through its
// OpenTelemetry bridge), HTTP latency by route, sessions by status and side-effect
// failures by vendor. Labels carry routes, statuses and names, never PHI.
package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// Namespace prefixes the service's own metrics.
const Namespace = "telehealth"

// Metrics is one process's registry and the service's own metrics in it.
type Metrics struct {
	reg      *prometheus.Registry
	temporal client.MetricsHandler

	httpDuration *prometheus.HistogramVec
	sideEffects  *prometheus.CounterVec
}

// New returns a registry with the Go runtime's and the process's collectors, the
// Temporal SDK's metrics and the service's own.
func New() (*Metrics, error) {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "http_request_duration_seconds",
			Help:      "HTTP requests by route template, method and status code.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5,
				10, 15},
		}, []string{"route", "method", "status"}),
		sideEffects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "side_effect_failures_total",
			Help:      "Failed side-effect attempts by vendor and activity.",
		}, []string{"vendor", "activity"}),
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpDuration,
		m.sideEffects,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}

	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	m.temporal = temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: provider.Meter("temporal-sdk"),
	})
	return m, nil
}

// Temporal is the handler for client.Options.MetricsHandler.
func (m *Metrics) Temporal() client.MetricsHandler { return m.temporal }

// Register adds a collector, such as SessionsByStatus, to the registry.
func (m *Metrics) Register(c prometheus.Collector) error {
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveHTTP records one request by its route template (never its path, which may
// carry ids).
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	m.httpDuration.WithLabelValues(route, method, strconv.Itoa(status)).
		Observe(d.Seconds())
}

// SideEffectFailed counts one failed attempt of a side effect.
func (m *Metrics) SideEffectFailed(vendor, activity string) {
	m.sideEffects.WithLabelValues(vendor, activity).Inc()
}
