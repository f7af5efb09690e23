package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CountFunc counts the sessions in one status.
type CountFunc func(ctx context.Context, status string) (int64, error)

// SessionsByStatus is a collector of the number of sessions in each status, read from
// the workflow engine's visibility store at most once per TTL however often it is
// scraped.
type SessionsByStatus struct {
	count    CountFunc
	statuses []string
	ttl      time.Duration
	desc     *prometheus.Desc
	errDesc  *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	counts map[string]int64
	failed bool
}

// NewSessionsByStatus returns the collector for statuses, counted by count.
func NewSessionsByStatus(count CountFunc, statuses []string, ttl time.Duration) *SessionsByStatus {
	return &SessionsByStatus{
		count:    count,
		statuses: statuses,
		ttl:      ttl,
		desc: prometheus.NewDesc(Namespace+"_sessions",
			"Sessions by lifecycle status, from the engine's visibility store.",
			[]string{"status"}, nil),
		errDesc: prometheus.NewDesc(Namespace+"_sessions_count_failed",
			"1 when the last count of sessions by status failed.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (s *SessionsByStatus) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.desc
	ch <- s.errDesc
}

// Collect implements prometheus.Collector.
func (s *SessionsByStatus) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.at) >= s.ttl {
		s.refresh()
	}
	for _, status := range s.statuses {
		if n, ok := s.counts[status]; ok {
			ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue,
				float64(n), status)
		}
	}
	failed := 0.0
	if s.failed {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(s.errDesc, prometheus.GaugeValue, failed)
}

// refresh counts every status again; s.mu is held.
func (s *SessionsByStatus) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts := map[string]int64{}
	s.failed = false
	for _, status := range s.statuses {
		n, err := s.count(ctx, status)
		if err != nil {
			s.failed = true
			continue
		}
		counts[status] = n
	}
	s.counts, s.at = counts, time.Now()
}
