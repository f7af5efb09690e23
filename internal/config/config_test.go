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

func TestNoShowFee(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{})
	require.NoError(t, err)
	assert.Zero(t, cfg.NoShowFeeCents, "a no-show is not billed by default")

	cfg, err = config.FromMap(map[string]string{"NO_SHOW_FEE_CENTS": "2500"})
	require.NoError(t, err)
	assert.Equal(t, 2500, cfg.NoShowFeeCents)

	for _, fee := range []string{"-1", "100001"} {
		_, err := config.FromMap(map[string]string{"NO_SHOW_FEE_CENTS": fee})
		assert.ErrorContains(t, err, "NO_SHOW_FEE_CENTS must be from 0 to 100000", fee)
	}
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

func TestSecurityProblemsAtOnce(t *testing.T) {
	_, err := config.FromMap(map[string]string{
		"API_KEY_ENABLED":        "true",
		"API_KEY":                strings.Repeat("k", 32),
		"ALLOWED_ORIGINS":        "*,ftp://x",
		"PAYLOAD_KEYS":           "a:c2hvcnQ=",
		"IP_ALLOWLIST":           "10.0.0.0/8,not-an-ip",
		"TRUSTED_PROXIES":        "300.1.1.1",
		"WEBHOOK_SIGNING_SECRET": "short",
		"TLS_CERT_FILE":          "/tmp/cert.pem",
		"REDIS_URL":              "http://redis",
		"AUDIT_DATABASE_URL":     "mysql://x",
		"BAA_VENDORS":            "zoom,acme",
		"RATE_LIMIT_BURST":       "0",
	})
	require.Error(t, err)
	for _, want := range []string{
		"ALLOWED_ORIGINS must list origins, not *",
		`ALLOWED_ORIGINS: "ftp://x" is not an origin`,
		`PAYLOAD_KEYS: key "a" is not 32 bytes`,
		`IP_ALLOWLIST: "not-an-ip"`,
		`TRUSTED_PROXIES: "300.1.1.1"`,
		"WEBHOOK_SIGNING_SECRET is shorter than 32",
		"TLS_CERT_FILE and TLS_KEY_FILE go together",
		"REDIS_URL is not a redis:// URL",
		"AUDIT_DATABASE_URL must be a postgres:// URL",
		`BAA_VENDORS: unknown vendor "acme"`,
		"RATE_LIMIT_BURST must be at least 1",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "c2hvcnQ=", "no key material in errors")
}

func TestPayloadKeysNeedACurrentID(t *testing.T) {
	a := "a:" + strings.Repeat("A", 43) + "="
	b := "b:" + strings.Repeat("B", 43) + "="
	_, err := config.FromMap(map[string]string{"PAYLOAD_KEYS": a + "," + b})
	assert.ErrorContains(t, err, "PAYLOAD_KEY_ID must name the current key")
	_, err = config.FromMap(map[string]string{"PAYLOAD_KEYS": a, "PAYLOAD_KEY_ID": "c"})
	assert.ErrorContains(t, err, `PAYLOAD_KEY_ID "c" is not in PAYLOAD_KEYS`)
	cfg, err := config.FromMap(map[string]string{"PAYLOAD_KEYS": a + "," + b,
		"PAYLOAD_KEY_ID": "b"})
	require.NoError(t, err)
	pc, err := cfg.Codec(t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, "b", pc.CurrentKeyID())
	assert.Equal(t, []string{"a", "b"}, pc.KeyIDs())
}

func TestLocalPayloadKeyByDefault(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{})
	require.NoError(t, err)
	dir := t.TempDir()
	first, err := cfg.Codec(dir)
	require.NoError(t, err)
	again, err := cfg.Codec(dir)
	require.NoError(t, err)
	assert.Equal(t, first.CurrentKeyID(), again.CurrentKeyID(), "generated once, kept")
}

func TestObservabilityAndTemporalTLSProblems(t *testing.T) {
	_, err := config.FromMap(map[string]string{
		"WORKER_METRICS_ADDR": "9464",
		"WORKER_CACHE_SIZE":   "0",
		"TEMPORAL_TLS_CERT":   "/nonexistent/client.pem",
		"TEMPORAL_TLS_CA":     "/nonexistent/ca.pem",
	})
	require.Error(t, err)
	for _, want := range []string{
		"WORKER_METRICS_ADDR must be host:port",
		"WORKER_CACHE_SIZE must be at least 1",
		"TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together",
		"TEMPORAL_TLS_CERT: stat /nonexistent/client.pem",
		"TEMPORAL_TLS_CA: stat /nonexistent/ca.pem",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestTemporalTLSConfig(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{})
	require.NoError(t, err)
	tc, err := cfg.TLSConfig()
	require.NoError(t, err)
	assert.Nil(t, tc, "no TLS variable: a plain connection, as to the dev server")

	cfg, err = config.FromMap(map[string]string{
		"TEMPORAL_TLS": "true", "TEMPORAL_TLS_SERVER_NAME": "ns.acct.tmprl.cloud",
	})
	require.NoError(t, err)
	tc, err = cfg.TLSConfig()
	require.NoError(t, err)
	require.NotNil(t, tc)
	assert.Equal(t, "ns.acct.tmprl.cloud", tc.ServerName)
}
