package twilio_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/twilio"
	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/internal/integrations/vendortest"
	"github.com/telehealth/sessions/internal/phi"
)

var (
	sid   = "AC" + strings.Repeat("0123456789abcdef", 2)
	token = strings.Repeat("f00d", 8)
)

func client(t *testing.T, srv *vendortest.Twilio, authToken string) *twilio.Client {
	c, err := twilio.New(twilio.Config{
		AccountSID: sid, AuthToken: authToken, From: "+15550001111", APIURL: srv.URL(),
		HTTP: &http.Client{Timeout: 300 * time.Millisecond},
	})
	require.NoError(t, err)
	return c
}

func sms(to string) activities.SMS {
	return activities.SMS{SessionID: "SESSION-1730851234567-a3f7k2", To: phiPhone(to),
		Text: "Hillside Clinic: your visit is at 9:00 AM. Join: https://zoom.us/j/1?pwd=x"}
}

func TestSendSMS(t *testing.T) {
	srv := vendortest.NewTwilio(t, sid, token)
	require.NoError(t, client(t, srv, token).SendSMS(t.Context(), sms("+15557654321")))

	sent := srv.Sent()
	require.Len(t, sent, 1)
	assert.Equal(t, "+15557654321", sent[0].Get("To"))
	assert.Equal(t, "+15550001111", sent[0].Get("From"))
	assert.Contains(t, sent[0].Get("Body"), "https://zoom.us/j/1?pwd=x")
	req := srv.Requests()[0]
	assert.Equal(t, "/2010-04-01/Accounts/"+sid+"/Messages.json", req.Path)
	user, pass, ok := (&http.Request{Header: req.Header}).BasicAuth()
	assert.True(t, ok)
	assert.Equal(t, sid, user)
	assert.Equal(t, token, pass)
}

func TestSendSMSFailures(t *testing.T) {
	cases := map[string]struct {
		to, authToken string
		fault         *vendortest.Fault
		retryable     bool
		status, code  int
		retryAfter    time.Duration
	}{
		"invalid number is permanent (21211)": {to: "+1555", status: 400, code: 21211},
		"landline is permanent (21614)":       {to: "+15550100999", status: 400, code: 21614},
		"bad credentials are permanent": {authToken: strings.Repeat("bad0", 8),
			status: 401, code: 20003},
		"rate limit is retried, waiting as asked": {
			fault: &vendortest.Fault{Status: 429, RetryAfter: "3"}, retryable: true,
			status: 429, code: 20429, retryAfter: 3 * time.Second},
		"server error is retried": {fault: &vendortest.Fault{Status: 500}, retryable: true,
			status: 500, code: 20500},
		"server error without a json body is retried": {
			fault: &vendortest.Fault{Status: 503, Body: "<html>down</html>"}, retryable: true,
			status: 503},
		"timeout is retried": {fault: &vendortest.Fault{Delay: 2 * time.Second},
			retryable: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv := vendortest.NewTwilio(t, sid, token)
			if c.fault != nil {
				srv.Inject(*c.fault)
			}
			to := c.to
			if to == "" {
				to = "+15557654321"
			}
			authToken := c.authToken
			if authToken == "" {
				authToken = token
			}
			err := client(t, srv, authToken).SendSMS(t.Context(), sms(to))

			var verr *vendor.Error
			require.True(t, errors.As(err, &verr), "got %v", err)
			assert.Equal(t, c.retryable, verr.Retryable)
			assert.Equal(t, c.status, verr.Status)
			assert.Equal(t, c.code, verr.Code)
			assert.Equal(t, c.retryAfter, verr.RetryAfter)
			assert.NotContains(t, verr.Error(), strings.TrimPrefix(to, "+"),
				"no phone number in errors")
			assert.NotContains(t, verr.Error(), authToken)
			assert.Empty(t, srv.Sent())
		})
	}
}

func TestTransientThenSuccess(t *testing.T) {
	srv := vendortest.NewTwilio(t, sid, token)
	srv.Inject(vendortest.Fault{Status: 503})
	c := client(t, srv, token)

	err := c.SendSMS(t.Context(), sms("+15557654321"))
	var verr *vendor.Error
	require.True(t, errors.As(err, &verr))
	require.True(t, verr.Retryable)
	require.NoError(t, c.SendSMS(t.Context(), sms("+15557654321")))
	assert.Len(t, srv.Sent(), 1)
}

func phiPhone(s string) phi.Phone { return phi.Phone(s) }

func TestUnusableCredentialsArePermanent(t *testing.T) {
	srv := vendortest.NewTwilio(t, sid, token)
	err := client(t, srv, "not-alphanumeric!").SendSMS(t.Context(), sms("+15557654321"))
	var verr *vendor.Error
	require.True(t, errors.As(err, &verr), "got %v", err)
	assert.False(t, verr.Retryable)
	assert.Empty(t, srv.Requests(), "refused before any call")
}
