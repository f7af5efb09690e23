package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/config"
)

func TestRetentionDefaultAndProblems(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{})
	require.NoError(t, err)
	assert.Equal(t, 2555, cfg.RecordingRetentionDays)

	for _, bad := range []string{"0", "-3", "36501"} {
		_, err = config.FromMap(map[string]string{"RECORDING_RETENTION_DAYS": bad})
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "RECORDING_RETENTION_DAYS")
	}
}
