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
	assert.ErrorContains(t, err, "zoom receives PHI (video meetings) but is not in BAA_VENDORS")

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

func TestDefaultPostureIsLocal(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{})
	require.NoError(t, err)
	p, err := compliance.Resolve(cfg)
	require.NoError(t, err)
	assert.Empty(t, p.Vendors)
	assert.Contains(t, p.Local, "video sandbox")
}
