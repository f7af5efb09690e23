package triggers_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/triggers"
	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/internal/integrations/vendortest"
)

var (
	secret = []byte(strings.Repeat("s", 32))
	apiKey = strings.Repeat("k", 32)
	start  = time.Date(2027, 3, 1, 14, 0, 0, 0, time.UTC)
)

func billing(fee int) activities.BillingRequest {
	return activities.BillingRequest{
		SessionID: "SESSION-1730851234567-a3f7k2", BookingID: "BOOK-1",
		CustomerEmail: "sarah@example.com", AmountCents: fee,
		Description: "Telehealth session on 2027-03-01", DurationMinutes: 30,
	}
}

func webhook(srv *vendortest.Webhook, name string) *triggers.Webhook {
	return &triggers.Webhook{Name: name, URL: srv.URL() + srv.Path(), APIKey: apiKey,
		Secret: secret, HTTP: &http.Client{Timeout: 300 * time.Millisecond}}
}

func TestBillingWebhook(t *testing.T) {
	srv := vendortest.NewBilling(t, apiKey, secret)
	tr := &triggers.Triggers{Billing: webhook(srv, "billing")}

	require.NoError(t, tr.TriggerBilling(t.Context(), billing(7500)))
	require.NoError(t, tr.TriggerBilling(t.Context(), billing(7500)), "a retry")

	posts := srv.Posts()
	require.Len(t, posts, 1, "the module sees one trigger: the key is the same")
	var got map[string]any
	require.NoError(t, json.Unmarshal(posts[0], &got))
	assert.Equal(t, map[string]any{
		"amount": 7500.0, "currency": "usd", "customer_email": "sarah@example.com",
		"description": "Telehealth session on 2027-03-01", "booking_id": "BOOK-1",
		"session_duration": 30.0, "session_id": "SESSION-1730851234567-a3f7k2",
		"idempotency_key": "SESSION-1730851234567-a3f7k2-billing", "no_show": false,
	}, got)
	reqs := srv.Requests()
	assert.Equal(t, reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"))
	assert.Equal(t, triggers.Sign(secret, reqs[0].Body),
		reqs[0].Header.Get(triggers.HeaderSignature))
}

func TestBillingCarriesTheRealVisit(t *testing.T) {
	began, ended := start.Add(3*time.Minute), start.Add(25*time.Minute)
	visit := billing(7500)
	visit.DurationMinutes, visit.ScheduledMinutes = 22, 30
	visit.ActualStart, visit.ActualEnd = &began, &ended
	noShow := billing(2500) // the clinic's no-show fee
	noShow.DurationMinutes, noShow.NoShow = 0, true
	noShow.Description = "Telehealth no-show on 2027-03-01"

	got := triggers.BillingPayload(visit, "")
	assert.Equal(t, 22, got.SessionDuration, "billed on the real duration")
	assert.Equal(t, 30, got.ScheduledMinutes)
	assert.Equal(t, began, *got.ActualStart)
	assert.Equal(t, ended, *got.ActualEnd)
	assert.False(t, got.NoShow)

	got = triggers.BillingPayload(noShow, "")
	assert.True(t, got.NoShow, "M04 is told the patient never came")
	assert.Equal(t, 2500, got.Amount)
	assert.Zero(t, got.SessionDuration)
}

// TestNoShowFeeWebhook: M04 takes a no-show's fee. (An amount of 0 it refuses for
// good, see TestWebhookFailures: a no-show without a fee is not sent at all.)
func TestNoShowFeeWebhook(t *testing.T) {
	srv := vendortest.NewBilling(t, apiKey, secret)
	tr := &triggers.Triggers{Billing: webhook(srv, "billing")}
	noShow := billing(2500)
	noShow.DurationMinutes, noShow.NoShow = 0, true
	noShow.Description = "Telehealth no-show on 2027-03-01"

	require.NoError(t, tr.TriggerBilling(t.Context(), noShow))
	posts := srv.Posts()
	require.Len(t, posts, 1)
	var got triggers.Billing
	require.NoError(t, json.Unmarshal(posts[0], &got))
	assert.Equal(t, 2500, got.Amount)
	assert.True(t, got.NoShow)
	assert.Equal(t, "Telehealth no-show on 2027-03-01", got.Description)
}

func TestFollowUpWebhook(t *testing.T) {
	srv := vendortest.NewFollowUp(t, apiKey, secret)
	tr := &triggers.Triggers{FollowUp: webhook(srv, "followup")}
	require.NoError(t, tr.TriggerFollowUp(t.Context(), activities.FollowUpRequest{
		SessionID: "SESSION-1730851234567-a3f7k2", BookingID: "BOOK-1",
		PatientEmail: "sarah@example.com", VisitDate: start, ProviderName: "Dr. Smith",
	}))
	posts := srv.Posts()
	require.Len(t, posts, 1)
	var got triggers.FollowUp
	require.NoError(t, json.Unmarshal(posts[0], &got))
	assert.Equal(t, "followup", got.CampaignType)
	assert.Equal(t, []string{"sarah@example.com"}, got.Recipients)
	assert.Equal(t, "post_telehealth", got.FollowUpType)
	assert.Equal(t, "2027-03-01T14:00:00Z", got.SessionDate)
	assert.GreaterOrEqual(t, len(got.Message), 10)
}

func TestWebhookFailures(t *testing.T) {
	cases := map[string]struct {
		fee       int
		key       string
		secret    []byte
		fault     *vendortest.Fault
		retryable bool
		detail    string
	}{
		"validation is permanent":    {fee: 0, detail: "amount (must be greater than 0)"},
		"wrong api key is permanent": {fee: 100, key: "nope"},
		"wrong signature is permanent": {fee: 100,
			secret: []byte(strings.Repeat("x", 32))},
		"server error is retried": {fee: 100, fault: &vendortest.Fault{Status: 502},
			retryable: true},
		"request timeout (408) is retried": {fee: 100,
			fault: &vendortest.Fault{Status: 408}, retryable: true},
		"timeout is retried": {fee: 100, fault: &vendortest.Fault{Delay: 2 * time.Second},
			retryable: true, detail: "timeout"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv := vendortest.NewBilling(t, apiKey, secret)
			if c.fault != nil {
				srv.Inject(*c.fault)
			}
			w := webhook(srv, "billing")
			if c.key != "" {
				w.APIKey = c.key
			}
			if c.secret != nil {
				w.Secret = c.secret
			}
			err := (&triggers.Triggers{Billing: w}).TriggerBilling(t.Context(), billing(c.fee))

			var verr *vendor.Error
			require.True(t, errors.As(err, &verr), "got %v", err)
			assert.Equal(t, c.retryable, verr.Retryable)
			assert.Contains(t, verr.Error(), c.detail)
			assert.NotContains(t, verr.Error(), "sarah")
			assert.Empty(t, srv.Posts())
		})
	}
}

func TestConflictMeansDelivered(t *testing.T) {
	srv := vendortest.NewBilling(t, apiKey, secret)
	srv.Inject(vendortest.Fault{Status: 409})
	err := (&triggers.Triggers{Billing: webhook(srv, "billing")}).
		TriggerBilling(t.Context(), billing(100))
	assert.NoError(t, err)
}

func TestTransientThenSuccess(t *testing.T) {
	srv := vendortest.NewFollowUp(t, apiKey, secret)
	// The module acted but its answer was lost: the retry must not start a second
	// campaign.
	srv.Inject(vendortest.Fault{Status: 503, Accept: true})
	tr := &triggers.Triggers{FollowUp: webhook(srv, "followup")}
	req := activities.FollowUpRequest{SessionID: "SESSION-1", BookingID: "B",
		PatientEmail: "sarah@example.com", VisitDate: start}

	var verr *vendor.Error
	require.True(t, errors.As(tr.TriggerFollowUp(t.Context(), req), &verr))
	require.True(t, verr.Retryable)
	require.NoError(t, tr.TriggerFollowUp(t.Context(), req))
	assert.Len(t, srv.Posts(), 1)
}
