package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/config"
)

func TestPHIKeys(t *testing.T) {
	plain, phiKey := strings.Repeat("p", 32), strings.Repeat("h", 32)
	stranger := strings.Repeat("s", 32)

	cfg, err := config.FromMap(map[string]string{
		"API_KEY_ENABLED": "true",
		"API_KEY":         plain + "," + phiKey,
		"API_KEYS_PHI":    " " + phiKey,
	})
	require.NoError(t, err)
	assert.Equal(t, []string{" " + phiKey}, cfg.PHIKeys)
	out := fmt.Sprint(cfg.LogValue())
	assert.Contains(t, out, "api_keys_phi=1")
	assert.NotContains(t, out, phiKey)

	// A PHI key must also be a valid key; the problem names its position only.
	_, err = config.FromMap(map[string]string{
		"API_KEY_ENABLED": "true",
		"API_KEY":         plain,
		"API_KEYS_PHI":    plain + "," + stranger,
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "API_KEYS_PHI entry 2 is not one of API_KEY")
	assert.NotContains(t, err.Error(), "entry 1 ")
	assert.NotContains(t, err.Error(), stranger)

	// Without keys, no one may see PHI: the setting is refused.
	_, err = config.FromMap(map[string]string{"API_KEYS_PHI": phiKey})
	assert.ErrorContains(t, err, "API_KEYS_PHI requires API_KEY_ENABLED")
}
