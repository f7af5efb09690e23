package compliance_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/compliance"
	"github.com/telehealth/sessions/internal/config"
)

func hipaa(t *testing.T, baa string) config.Config {
	t.Helper()
	key, err := codec.NewKey("k1")
	require.NoError(t, err)
	cfg, err := config.FromMap(map[string]string{
		"HIPAA_MODE": "true", "BAA_VENDORS": baa, "PAYLOAD_KEYS": key,
		"API_KEY_ENABLED": "true", "API_KEY": strings.Repeat("k", 32),
		"VIDEO_PLATFORM": "zoom", "ZOOM_ACCOUNT_ID": "a", "ZOOM_CLIENT_ID": "b",
		"ZOOM_CLIENT_SECRET": "c", "ZOOM_USER_ID": "d",
	})
	require.NoError(t, err)
	return cfg
}

func TestHIPAAModeRefusesAVendorWithoutABAA(t *testing.T) {
	_, err := compliance.Resolve(hipaa(t, "sendgrid"))
	assert.ErrorContains(t, err, "zoom receives PHI (video visits) but is not in BAA_VENDORS")

	p, err := compliance.Resolve(hipaa(t, "zoom,sendgrid"))
	require.NoError(t, err)
	assert.True(t, p.HIPAAMode)
	require.Len(t, p.Vendors, 1)
	assert.True(t, p.Vendors[0].BAA)
}

func TestHIPAAModeNeedsKeysInCustody(t *testing.T) {
	_, err := config.FromMap(map[string]string{"HIPAA_MODE": "true"})
	assert.ErrorContains(t, err, "HIPAA_MODE requires PAYLOAD_KEYS")
	assert.ErrorContains(t, err, "HIPAA_MODE requires API_KEY_ENABLED")
}

func TestEveryConfiguredVendorIsJudged(t *testing.T) {
	key, err := codec.NewKey("k1")
	require.NoError(t, err)
	cfg, err := config.FromMap(map[string]string{
		"HIPAA_MODE": "true", "BAA_VENDORS": "twilio", "PAYLOAD_KEYS": key,
		"API_KEY_ENABLED": "true", "API_KEY": strings.Repeat("k", 32),
		"SENDGRID_API_KEY": "SG.x", "SENDGRID_FROM_EMAIL": "a@clinic.example",
		"TWILIO_ACCOUNT_SID":       "AC0123456789abcdef0123456789abcdef",
		"TWILIO_AUTH_TOKEN":        "0123456789abcdef0123456789abcdef",
		"TWILIO_FROM_NUMBER":       "+15550001111",
		"NOTIFICATION_WEBHOOK_URL": "https://hooks.slack.example/x",
	})
	require.NoError(t, err)
	p, err := compliance.Resolve(cfg)
	require.Error(t, err)
	assert.ErrorContains(t, err, "sendgrid receives PHI")
	assert.NotContains(t, err.Error(), "twilio", "twilio has a BAA")
	assert.NotContains(t, err.Error(), "slack", "the staff channel gets masked data only")
	got := map[string]string{}
	for _, u := range p.Vendors {
		got[u.Vendor] = u.Receives
	}
	assert.Equal(t, map[string]string{"sendgrid": "phi", "twilio": "phi", "slack": "masked"},
		got)
}

func TestDefaultPostureIsLocal(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{})
	require.NoError(t, err)
	p, err := compliance.Resolve(cfg)
	require.NoError(t, err)
	assert.Empty(t, p.Vendors)
	assert.Contains(t, p.Local, "video sandbox")
}

func TestHIPAAModeNeedsABAAForTheEHR(t *testing.T) {
	cfg := hipaa(t, "zoom")
	cfg.FHIRBaseURL, cfg.FHIRBearerToken = "https://ehr.example/fhir", "tok"
	_, err := compliance.Resolve(cfg)
	assert.ErrorContains(t, err, "ehr receives PHI")

	cfg = hipaa(t, "zoom,ehr")
	cfg.FHIRBaseURL, cfg.FHIRBearerToken = "https://ehr.example/fhir", "tok"
	p, err := compliance.Resolve(cfg)
	require.NoError(t, err)
	require.Len(t, p.Vendors, 2)
	assert.Equal(t, "ehr", p.Vendors[1].Vendor)
	assert.True(t, p.Vendors[1].BAA)
}
