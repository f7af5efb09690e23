package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/telehealth/sessions/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, w.Code)
	b, _ := io.ReadAll(w.Body)
	return string(b)
}

func TestSessionsByStatusCountsOncePerTTL(t *testing.T) {
	m, err := metrics.New()
	require.NoError(t, err)
	calls := 0
	count := func(_ context.Context, status string) (int64, error) {
		calls++
		if status == "FAILED" {
			return 0, errors.New("visibility unavailable")
		}
		return int64(len(status)), nil
	}
	require.NoError(t, m.Register(metrics.NewSessionsByStatus(count,
		[]string{"SCHEDULED", "FAILED"}, time.Hour)))

	text := scrape(t, m)
	scrape(t, m)

	assert.Contains(t, text, `telehealth_sessions{status="SCHEDULED"} 9`)
	assert.NotContains(t, text, `telehealth_sessions{status="FAILED"}`,
		"a status that could not be counted is left out, not reported as 0")
	assert.Contains(t, text, "telehealth_sessions_count_failed 1")
	assert.Equal(t, 2, calls, "the second scrape within the TTL must use the cache")
}

type vendorErr struct{}

func (vendorErr) Send(context.Context) error { return errors.New("sendgrid: 503") }

func TestSideEffectFailuresByVendor(t *testing.T) {
	m, err := metrics.New()
	require.NoError(t, err)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{
		m.SideEffects(func(activity string) string { return "vendor-of-" + activity }),
	}})
	env.RegisterActivityWithOptions(vendorErr{}.Send, activity.RegisterOptions{Name: "SendInviteEmail"})

	_, err = env.ExecuteActivity("SendInviteEmail")
	require.Error(t, err)

	assert.Contains(t, scrape(t, m), `telehealth_side_effect_failures_total{`+
		`activity="SendInviteEmail",vendor="vendor-of-SendInviteEmail"} 1`)
}

func TestTemporalMetricsAreExported(t *testing.T) {
	m, err := metrics.New()
	require.NoError(t, err)
	m.Temporal().Counter("temporal_request").Inc(1)

	assert.True(t, strings.Contains(scrape(t, m), "temporal_request"))
}
