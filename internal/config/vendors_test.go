package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/config"
)

func TestHalfConfiguredVendorsFailNamingWhatIsMissing(t *testing.T) {
	cases := map[string]struct {
		vars map[string]string
		want string
	}{
		"sendgrid key without a sender": {
			map[string]string{"SENDGRID_API_KEY": "SG.x"},
			"SENDGRID_FROM_EMAIL is required when SENDGRID_API_KEY is set"},
		"sender without a key": {
			map[string]string{"SENDGRID_FROM_EMAIL": "v@clinic.example"},
			"SENDGRID_API_KEY is required when SENDGRID_FROM_EMAIL is set"},
		"twilio without a token": {
			map[string]string{"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_FROM_NUMBER": "+15550001111"},
			"TWILIO_AUTH_TOKEN is required"},
		"twilio sender not E.164": {
			map[string]string{"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
				"TWILIO_FROM_NUMBER": "555-0000"},
			"TWILIO_FROM_NUMBER must be an E.164 number"},
		"billing webhook unsigned": {
			map[string]string{"BILLING_WEBHOOK_URL": "https://m04.example/webhook/billing-payment",
				"SESSION_FEE_CENTS": "7500"},
			"TRIGGER_SIGNING_SECRET of at least 32 characters is required"},
		"billing without a fee": {
			map[string]string{"BILLING_WEBHOOK_URL": "https://m04.example/x",
				"TRIGGER_SIGNING_SECRET": strings.Repeat("s", 32)},
			"SESSION_FEE_CENTS must be from 1 to 100000"},
		"signal-with-start without a queue": {
			map[string]string{"FOLLOWUP_WORKFLOW_TYPE": "FollowUpCampaign"},
			"FOLLOWUP_TASK_QUEUE is required when FOLLOWUP_WORKFLOW_TYPE is set"},
		"webhook and workflow both": {
			map[string]string{"FOLLOWUP_WEBHOOK_URL": "https://m05.example/x",
				"FOLLOWUP_WORKFLOW_TYPE": "F", "FOLLOWUP_TASK_QUEUE": "q",
				"TRIGGER_SIGNING_SECRET": strings.Repeat("s", 32)},
			"FOLLOWUP_WEBHOOK_URL and FOLLOWUP_WORKFLOW_TYPE are both set"},
		"doxy without a room": {
			map[string]string{"VIDEO_PLATFORM": "doxy"},
			"DOXY_ROOM_URL is required when VIDEO_PLATFORM is doxy"},
		"teams misspelt": {
			map[string]string{"NOTIFICATION_WEBHOOK_FORMAT": "msteams"},
			"NOTIFICATION_WEBHOOK_FORMAT must be"},
		"sheets url without a sheet": {
			map[string]string{"SHEETS_API_URL": "http://127.0.0.1:1"},
			"SHEETS_API_URL is set but GOOGLE_SHEET_ID is not"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := config.FromMap(c.vars)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestEveryVendorConfigured(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{
		"GOOGLE_SHEET_ID":          "sheet",
		"SENDGRID_API_KEY":         "SG.secret-key-value",
		"SENDGRID_FROM_EMAIL":      "visits@clinic.example",
		"TWILIO_ACCOUNT_SID":       "AC123",
		"TWILIO_AUTH_TOKEN":        "twilio-token-value",
		"TWILIO_FROM_NUMBER":       "+15550001111",
		"NOTIFICATION_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/secretpath",
		"BILLING_WEBHOOK_URL":      "https://m04.example/webhook/billing-payment",
		"FOLLOWUP_WORKFLOW_TYPE":   "FollowUpCampaign",
		"FOLLOWUP_TASK_QUEUE":      "followups",
		"TRIGGER_SIGNING_SECRET":   strings.Repeat("s", 32),
		"SESSION_FEE_CENTS":        "7500",
		"VIDEO_PLATFORM":           "meet",
	})
	require.NoError(t, err)
	assert.Equal(t, "Sessions", cfg.SheetTab)
	assert.True(t, cfg.SendGridEnabled())
	out := fmt.Sprint(cfg.LogValue())
	for _, secret := range []string{"SG.secret-key-value", "twilio-token-value",
		"secretpath", strings.Repeat("s", 32)} {
		assert.NotContains(t, out, secret)
	}
}
