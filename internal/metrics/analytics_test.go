package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/analytics"
	"github.com/telehealth/sessions/internal/metrics"
)

func TestAnalyticsGaugesOverTheRollingWindow(t *testing.T) {
	m, err := metrics.New()
	require.NoError(t, err)
	var (
		calls int
		asked []analytics.Range
		fail  bool
	)
	half, third := 0.5, 1.0/3
	report := func(_ context.Context, r analytics.Range) (analytics.Report, error) {
		calls++
		asked = append(asked, r)
		if fail {
			return analytics.Report{}, errors.New("visibility unavailable")
		}
		rep := analytics.Report{ByStatus: map[string]int{"COMPLETED": 4, "NO_SHOW": 2}}
		rep.Duration.AverageSeconds = ptr(1500.0)
		rep.NoShow.Rate = &third
		rep.Encryption.Rate = &half
		// Utilization and recording have nothing to measure: left out.
		return rep, nil
	}
	a := metrics.NewAnalytics(report, 30*24*time.Hour, time.Hour)
	require.NoError(t, m.Register(a))

	text := scrape(t, m)
	scrape(t, m)
	assert.Equal(t, 1, calls, "the second scrape within the TTL uses the cache")
	require.Len(t, asked, 1)
	assert.Equal(t, 30*24*time.Hour, asked[0].To.Sub(asked[0].From))
	assert.WithinDuration(t, time.Now(), asked[0].To, time.Minute)

	for _, want := range []string{
		`telehealth_analytics_sessions{status="COMPLETED"} 4`,
		`telehealth_analytics_sessions{status="NO_SHOW"} 2`,
		`telehealth_analytics_sessions{status="CANCELLED"} 0`,
		"telehealth_analytics_actual_duration_seconds_avg 1500",
		"telehealth_analytics_no_show_ratio 0.333",
		"telehealth_analytics_encryption_compliance_ratio 0.5",
		"telehealth_analytics_refresh_failed 0",
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "telehealth_analytics_provider_utilization_ratio ")
	assert.NotContains(t, text, "telehealth_analytics_recording_compliance_ratio ")
	assert.NotContains(t, text, "provider_id", "never labelled by provider")

	// A failed refresh keeps the last good figures and says so.
	b := metrics.NewAnalytics(report, time.Hour, 0) // no cache: every scrape computes
	m2, err := metrics.New()
	require.NoError(t, err)
	require.NoError(t, m2.Register(b))
	assert.Contains(t, scrape(t, m2), "telehealth_analytics_refresh_failed 0")
	fail = true
	text = scrape(t, m2)
	assert.Contains(t, text, "telehealth_analytics_refresh_failed 1")
	assert.Contains(t, text, `telehealth_analytics_sessions{status="COMPLETED"} 4`)
}

func ptr[T any](v T) *T { return &v }
