package activities_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/telehealth/sessions/activities"
)

func TestReminderWebhook(t *testing.T) {
	var got map[string]any
	var key string
	status, retryAfter := http.StatusAccepted, ""
	m08 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, json.NewDecoder(r.Body).Decode(&got))
		key = r.Header.Get("Idempotency-Key")
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(m08.Close)

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Activities{
		Reminders: &activities.ReminderWebhook{URL: m08.URL,
			Client: &http.Client{Timeout: 5 * time.Second}},
	})
	r := activities.Reminder{SessionID: "S-1", BookingID: "B-1",
		Email: "p@example.com", MeetingURL: "https://zoom.us/j/1",
		Start: time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC), DurationMinutes: 30}

	_, err := env.ExecuteActivity("SendReminder", r)
	require.NoError(t, err)
	assert.Equal(t, "telehealth_reminder", got["type"])
	assert.Equal(t, "S-1", got["session_id"])
	assert.Equal(t, "https://zoom.us/j/1", got["meeting_url"])
	assert.NotEmpty(t, key)

	for _, c := range []struct {
		status     int
		retryAfter string
		retryable  bool
		delay      time.Duration
	}{
		{http.StatusBadRequest, "", false, 0},
		{http.StatusNotFound, "", false, 0},
		{http.StatusRequestTimeout, "", true, 0},
		{http.StatusTooManyRequests, "9", true, 9 * time.Second},
		{http.StatusBadGateway, "", true, 0},
	} {
		status, retryAfter = c.status, c.retryAfter
		_, err := env.ExecuteActivity("SendReminder", r)
		require.Error(t, err, c.status)
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			assert.Equal(t, !c.retryable, app.NonRetryable(), c.status)
			if c.delay > 0 {
				assert.Equal(t, c.delay, app.NextRetryDelay(), c.status)
			}
		} else {
			assert.True(t, c.retryable, "%d: %v", c.status, err)
		}
		assert.NotContains(t, err.Error(), "p@example.com")
	}
}

func TestReminderWebhookNeedsTimeout(t *testing.T) {
	calls := 0
	m08 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
	}))
	t.Cleanup(m08.Close)

	for _, c := range []*http.Client{nil, {}} {
		w := &activities.ReminderWebhook{URL: m08.URL, Client: c}
		err := w.TriggerReminder(t.Context(), activities.Reminder{SessionID: "S-1"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "timeout")
	}
	assert.Zero(t, calls, "no call without a timeout")
}
