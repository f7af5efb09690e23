package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/config"
)

func TestEHROffByDefault(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{})
	require.NoError(t, err)
	assert.False(t, cfg.EHREnabled())

	cfg, err = config.FromMap(map[string]string{
		"FHIR_BASE_URL": "https://ehr.example/fhir/R4", "FHIR_BEARER_TOKEN": "t0k3n"})
	require.NoError(t, err)
	assert.True(t, cfg.EHREnabled())
	assert.Contains(t, cfg.LogValue().String(), "ehr.example")
	assert.NotContains(t, cfg.LogValue().String(), "t0k3n")

	cfg, err = config.FromMap(map[string]string{
		"FHIR_BASE_URL":     "https://svc:pa55word@ehr.example/fhir/R4",
		"FHIR_BEARER_TOKEN": "t0k3n"})
	require.NoError(t, err)
	assert.NotContains(t, cfg.LogValue().String(), "pa55word", "user info never logged")
}

func TestEHRHalfConfiguredNamesTheVariable(t *testing.T) {
	for vars, want := range map[[2]string]string{
		{"https://ehr.example/fhir", ""}:        "FHIR_BEARER_TOKEN is empty",
		{"", "tok"}:                             "FHIR_BASE_URL is empty",
		{"ehr.example/fhir", "tok"}:             "FHIR_BASE_URL must be an http(s) URL",
		{"https://ehr.example/fhir?x=1", "tok"}: "FHIR_BASE_URL must be an http(s) URL",
	} {
		m := map[string]string{}
		if vars[0] != "" {
			m["FHIR_BASE_URL"] = vars[0]
		}
		if vars[1] != "" {
			m["FHIR_BEARER_TOKEN"] = vars[1]
		}
		_, err := config.FromMap(m)
		assert.ErrorContains(t, err, want, "%v", vars)
	}
}
