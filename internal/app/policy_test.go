package app_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/app"
	"github.com/telehealth/sessions/internal/config"
)

func TestPolicyCarriesTheFees(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{"SESSION_FEE_CENTS": "7500",
		"NO_SHOW_FEE_CENTS": "2500"})
	require.NoError(t, err)

	p := app.APIConfig(cfg).Policy
	assert.Equal(t, 7500, p.SessionFeeCents)
	assert.Equal(t, 2500, p.NoShowFeeCents)
}
