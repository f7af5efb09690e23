package staff_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/staff"
	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/internal/integrations/vendortest"
)

var notice = activities.StaffNotice{
	SessionID: "SESSION-1730851234567-a3f7k2",
	Title:     "Telehealth session created",
	Lines:     []string{"Session: SESSION-1730851234567-a3f7k2", "Patient: S*** J***"},
}

var hc = &http.Client{Timeout: 300 * time.Millisecond}

func TestSlack(t *testing.T) {
	srv := vendortest.NewSlack(t)
	w := staff.New(srv.URL()+srv.Path(), staff.Slack, hc)
	require.NoError(t, w.Notify(t.Context(), notice))

	posts := srv.Posts()
	require.Len(t, posts, 1)
	var body map[string]string
	require.NoError(t, json.Unmarshal(posts[0], &body))
	assert.Contains(t, body["text"], "*Telehealth session created*")
	assert.Contains(t, body["text"], "Patient: S*** J***")
}

func TestTeams(t *testing.T) {
	srv := vendortest.NewTeams(t)
	w := staff.New(srv.URL()+srv.Path(), staff.Teams, hc)
	require.NoError(t, w.Notify(t.Context(), notice))

	posts := srv.Posts()
	require.Len(t, posts, 1)
	assert.Contains(t, string(posts[0]), `"type":"AdaptiveCard"`)
	assert.Contains(t, string(posts[0]), "S*** J***")

	// A Slack body sent to Teams is refused as Teams refuses it: permanent.
	err := staff.New(srv.URL()+srv.Path(), staff.Slack, hc).Notify(t.Context(), notice)
	var verr *vendor.Error
	require.True(t, errors.As(err, &verr))
	assert.False(t, verr.Retryable)
	assert.Equal(t, 400, verr.Status)
}

func TestSlackFailures(t *testing.T) {
	cases := map[string]struct {
		path      string
		fault     *vendortest.Fault
		retryable bool
		detail    string
	}{
		"revoked webhook is permanent": {path: "/services/gone", detail: "no_service"},
		"rate limit is retried": {fault: &vendortest.Fault{Status: 429, RetryAfter: "2"},
			retryable: true},
		"server error is retried": {fault: &vendortest.Fault{Status: 500}, retryable: true},
		"timeout is retried": {fault: &vendortest.Fault{Delay: 2 * time.Second},
			retryable: true, detail: "timeout"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv := vendortest.NewSlack(t)
			if c.fault != nil {
				srv.Inject(*c.fault)
			}
			path := srv.Path()
			if c.path != "" {
				path = c.path
			}
			err := staff.New(srv.URL()+path, staff.Slack, hc).Notify(t.Context(), notice)
			var verr *vendor.Error
			require.True(t, errors.As(err, &verr), "got %v", err)
			assert.Equal(t, c.retryable, verr.Retryable)
			assert.Contains(t, verr.Error(), c.detail)
			assert.NotContains(t, verr.Error(), srv.URL(), "the webhook url is a secret")
			assert.Empty(t, srv.Posts())
		})
	}
}

func TestTransientThenSuccess(t *testing.T) {
	srv := vendortest.NewTeams(t)
	srv.Inject(vendortest.Fault{Status: 502})
	w := staff.New(srv.URL()+srv.Path(), staff.Teams, hc)

	var verr *vendor.Error
	require.True(t, errors.As(w.Notify(t.Context(), notice), &verr))
	require.True(t, verr.Retryable)
	require.NoError(t, w.Notify(t.Context(), notice))
	assert.Len(t, srv.Posts(), 1)
}
