package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/telehealth/sessions/internal/analytics"
)

// ReportFunc computes the analytics of the sessions scheduled in a range.
type ReportFunc func(ctx context.Context, r analytics.Range) (analytics.Report, error)

// Analytics window and refresh defaults.
const (
	// DefaultAnalyticsWindow is the rolling window of the analytics gauges: the
	// sessions scheduled in the last 30 days.
	DefaultAnalyticsWindow = 30 * 24 * time.Hour
	// DefaultAnalyticsTTL is how long one computation serves scrapes.
	DefaultAnalyticsTTL = 5 * time.Minute
	// analyticsTimeout bounds one computation, inside a scrape.
	analyticsTimeout = 10 * time.Second
)

// Analytics is a collector of the analytics (M07) over a rolling window, computed at
// most once per TTL however often it is scraped. Its labels are statuses only: never
// a provider (unbounded) and never PHI. A rate with nothing to measure is left out.
type Analytics struct {
	report ReportFunc
	window time.Duration
	ttl    time.Duration
	now    func() time.Time

	sessions, duration, noShow, utilization *prometheus.Desc
	encryption, recording, failed           *prometheus.Desc

	mu   sync.Mutex
	at   time.Time
	last *analytics.Report
	bad  bool
}

// NewAnalytics returns the collector of report over the last window.
func NewAnalytics(report ReportFunc, window, ttl time.Duration) *Analytics {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(Namespace+"_analytics_"+name,
			help+" Sessions scheduled in the rolling window.", labels, nil)
	}
	return &Analytics{
		report:   report,
		window:   window,
		ttl:      ttl,
		now:      time.Now,
		sessions: desc("sessions", "Sessions by status.", "status"),
		duration: desc("actual_duration_seconds_avg",
			"Average actual meeting length of the visits that ended."),
		noShow: desc("no_show_ratio",
			"Concluded sessions missed by the patient (no-show or waiting-room "+
				"abandonment) over concluded sessions."),
		utilization: desc("provider_utilization_ratio",
			"Attended (billable) minutes over booked minutes, all providers."),
		encryption: desc("encryption_compliance_ratio",
			"Meetings confirmed with encryption and waiting room over meetings."),
		recording: desc("recording_compliance_ratio",
			"Visits held with cloud recording configured and reported over visits held."),
		failed: prometheus.NewDesc(Namespace+"_analytics_refresh_failed",
			"1 when the last computation of the analytics failed.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (a *Analytics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{a.sessions, a.duration, a.noShow, a.utilization,
		a.encryption, a.recording, a.failed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. After a failed computation it serves the
// last good one, with refresh_failed at 1.
func (a *Analytics) Collect(ch chan<- prometheus.Metric) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.now().Sub(a.at) >= a.ttl {
		a.refresh()
	}
	failed := 0.0
	if a.bad {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(a.failed, prometheus.GaugeValue, failed)
	rep := a.last
	if rep == nil {
		return
	}
	for _, st := range analytics.Statuses {
		ch <- prometheus.MustNewConstMetric(a.sessions, prometheus.GaugeValue,
			float64(rep.ByStatus[string(st)]), string(st))
	}
	for _, g := range []struct {
		desc *prometheus.Desc
		v    *float64
	}{
		{a.duration, rep.Duration.AverageSeconds},
		{a.noShow, rep.NoShow.Rate},
		{a.utilization, rep.Utilization.Rate},
		{a.encryption, rep.Encryption.Rate},
		{a.recording, rep.Recording.Rate},
	} {
		if g.v != nil {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, *g.v)
		}
	}
}

// refresh computes the window again; a.mu is held.
func (a *Analytics) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), analyticsTimeout)
	defer cancel()
	now := a.now()
	rep, err := a.report(ctx, analytics.Range{From: now.Add(-a.window), To: now})
	a.at = now
	if err != nil {
		a.bad = true
		return
	}
	a.bad, a.last = false, &rep
}
