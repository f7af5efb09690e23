package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/config"
)

func TestDefaults(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{})
	require.NoError(t, err)
	assert.Equal(t, 8080, cfg.Port)
	assert.Equal(t, config.PlatformSandbox, cfg.VideoPlatform)
	assert.Equal(t, 30, cfg.DefaultDuration)
	assert.Equal(t, 5, cfg.BufferMinutes)
	assert.Equal(t, 24*time.Hour, cfg.FollowUpDelay)
	assert.False(t, cfg.APIKeyEnabled)
}

func TestEveryProblemAtOnce(t *testing.T) {
	_, err := config.FromMap(map[string]string{
		"API_KEY_ENABLED":          "true",
		"API_KEY":                  "short",
		"DEFAULT_SESSION_DURATION": "500",
		"VIDEO_PLATFORM":           "zoom",
		"VIDEO_PLATFORM_API_URL":   "ftp://x",
		"LOG_LEVEL":                "loud",
	})
	require.Error(t, err)
	for _, want := range []string{
		"API_KEY entry 1 is shorter than 32 characters",
		"DEFAULT_SESSION_DURATION",
		"VIDEO_PLATFORM_API_URL",
		"LOG_LEVEL",
		"ZOOM_ACCOUNT_ID is required",
		"ZOOM_CLIENT_SECRET is required",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestAuthFailsClosed(t *testing.T) {
	_, err := config.FromMap(map[string]string{"API_KEY_ENABLED": "true"})
	assert.ErrorContains(t, err, "API_KEY is empty")

	key := strings.Repeat("k", 32)
	cfg, err := config.FromMap(map[string]string{
		"API_KEY_ENABLED": "true", "API_KEY": key + "," + key + "2",
	})
	require.NoError(t, err)
	assert.Len(t, cfg.APIKeys, 2, "several keys, for rotation")
}

func TestSecretsAreMaskedInTheLog(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{
		"VIDEO_PLATFORM":     "zoom",
		"ZOOM_ACCOUNT_ID":    "acct",
		"ZOOM_CLIENT_ID":     "client-id-value",
		"ZOOM_CLIENT_SECRET": "client-secret-value",
		"ZOOM_USER_ID":       "dr@clinic.example",
	})
	require.NoError(t, err)
	out := fmt.Sprint(cfg.LogValue())
	assert.NotContains(t, out, "client-secret-value")
	assert.NotContains(t, out, "client-id-value")
}

func TestParseAndRuleProblemsTogether(t *testing.T) {
	_, err := config.FromMap(map[string]string{
		"PORT":           "abc",
		"VIDEO_PLATFORM": "teams",
		"API_KEY":        strings.Repeat("k", 40),
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PORT")
	assert.Contains(t, err.Error(), "VIDEO_PLATFORM must be")
	assert.Contains(t, err.Error(), "API_KEY_ENABLED is not true")
}
