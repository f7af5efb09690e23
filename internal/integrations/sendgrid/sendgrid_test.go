package sendgrid_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/sendgrid"
	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/internal/integrations/vendortest"
)

const key = "SG.test-key"

func client(srv *vendortest.SendGrid, apiKey, from string) *sendgrid.Client {
	return sendgrid.New(sendgrid.Config{
		APIKey: apiKey, From: from, FromName: "Hillside Clinic", APIURL: srv.URL(),
		HTTP: &http.Client{Timeout: 300 * time.Millisecond},
	})
}

var msg = activities.Email{
	SessionID: "SESSION-1730851234567-a3f7k2",
	To:        "sarah.johnson@example.com",
	Subject:   "Your telehealth session link",
	Text:      "Join: https://zoom.us/j/1?pwd=x",
	HTML:      "<p><a href=\"https://zoom.us/j/1?pwd=x\">Join</a></p>",
}

func TestSendEmail(t *testing.T) {
	srv := vendortest.NewSendGrid(t, key)
	require.NoError(t, client(srv, key, "visits@clinic.example").SendEmail(t.Context(), msg))

	sent := srv.Sent()
	require.Len(t, sent, 1)
	m := sent[0]
	assert.Equal(t, "sarah.johnson@example.com", m.To())
	assert.Equal(t, "visits@clinic.example", m.From.Email)
	assert.Equal(t, "Hillside Clinic", m.From.Name)
	assert.Equal(t, msg.Subject, m.Subject)
	assert.Equal(t, "text/plain", m.Content[0].Type, "SendGrid wants plain text first")
	assert.Equal(t, msg.Text, m.Part("text/plain"))
	assert.Equal(t, msg.HTML, m.Part("text/html"))
	assert.False(t, m.TrackingSettings.ClickTracking.Enable, "links must not be rewritten")
	assert.Equal(t, msg.SessionID, m.Personalizations[0].CustomArgs["session_id"])

	req := srv.Requests()[0]
	assert.Equal(t, "/v3/mail/send", req.Path)
	assert.Equal(t, "Bearer "+key, req.Header.Get("Authorization"))
}

func TestSendEmailFailures(t *testing.T) {
	cases := map[string]struct {
		apiKey, from string
		fault        *vendortest.Fault
		retryable    bool
		status       int
		retryAfter   time.Duration
		detail       string
	}{
		"rejected sender is permanent": {apiKey: key, from: "", status: 400,
			detail: "from.email"},
		"bad key is permanent": {apiKey: "SG.wrong", from: "v@clinic.example", status: 401},
		"rate limit waits as asked": {apiKey: key, from: "v@clinic.example",
			fault:     &vendortest.Fault{Status: 429, RetryAfter: "7"},
			retryable: true, status: 429, retryAfter: 7 * time.Second},
		"server error is retried": {apiKey: key, from: "v@clinic.example",
			fault: &vendortest.Fault{Status: 503}, retryable: true, status: 503},
		"timeout is retried": {apiKey: key, from: "v@clinic.example",
			fault:     &vendortest.Fault{Delay: 2 * time.Second},
			retryable: true, detail: "timeout"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv := vendortest.NewSendGrid(t, key)
			if c.fault != nil {
				srv.Inject(*c.fault)
			}
			err := client(srv, c.apiKey, c.from).SendEmail(context.Background(), msg)

			var verr *vendor.Error
			require.True(t, errors.As(err, &verr), "got %v", err)
			assert.Equal(t, c.retryable, verr.Retryable)
			assert.Equal(t, c.status, verr.Status)
			assert.Equal(t, c.retryAfter, verr.RetryAfter)
			assert.Contains(t, verr.Error(), c.detail)
			assert.NotContains(t, verr.Error(), "sarah", "no recipient in errors")
			assert.NotContains(t, verr.Error(), c.apiKey, "no key in errors")
			assert.Empty(t, srv.Sent())
		})
	}
}

func TestTransientThenSuccess(t *testing.T) {
	srv := vendortest.NewSendGrid(t, key)
	srv.Inject(vendortest.Fault{Status: 502})
	c := client(srv, key, "v@clinic.example")

	err := c.SendEmail(t.Context(), msg)
	var verr *vendor.Error
	require.True(t, errors.As(err, &verr))
	require.True(t, verr.Retryable)
	require.NoError(t, c.SendEmail(t.Context(), msg))
	assert.Len(t, srv.Sent(), 1)
}
