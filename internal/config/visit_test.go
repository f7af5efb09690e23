package config_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/config"
)

func TestVisitDefaultsAndProblems(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{})
	require.NoError(t, err)
	assert.Equal(t, 60, cfg.ReminderLeadMinutes)
	assert.Equal(t, 15, cfg.NoShowGraceMinutes)
	assert.Empty(t, cfg.ZoomWebhookSecret)

	_, err = config.FromMap(map[string]string{
		"REMINDER_LEAD_MINUTES": "0",
		"NO_SHOW_GRACE_MINUTES": "-1",
		"SESSION_HISTORY_LIMIT": "10",
		"REMINDER_WEBHOOK_URL":  "ftp://m08",
	})
	require.Error(t, err)
	for _, want := range []string{"REMINDER_LEAD_MINUTES", "NO_SHOW_GRACE_MINUTES",
		"SESSION_HISTORY_LIMIT", "REMINDER_WEBHOOK_URL"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestWebhookSecretMasked(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{
		"ZOOM_WEBHOOK_SECRET_TOKEN": "zoom-secret-token-value",
	})
	require.NoError(t, err)
	out := fmt.Sprint(cfg.LogValue())
	assert.NotContains(t, out, "zoom-secret-token-value")
	assert.Contains(t, out, "zoom_webhook_secret_token")
}
