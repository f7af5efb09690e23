package config

import (
	"log/slog"
	"net/url"
	"time"

	"github.com/telehealth/sessions/internal/phi"
)

// EHR is where a finished visit's FHIR Appointment and Encounter go: an R4 server
// that takes conditional updates. Unset, nothing is sent.
type EHR struct {
	// FHIRBaseURL is the FHIR server's base, e.g. https://ehr.example/fhir/R4.
	FHIRBaseURL string `env:"FHIR_BASE_URL"`
	// FHIRBearerToken authorizes the PUTs (Authorization: Bearer ...).
	FHIRBearerToken string `env:"FHIR_BEARER_TOKEN"`
	// FHIRTimeout bounds one call to the server.
	FHIRTimeout time.Duration `env:"FHIR_TIMEOUT" envDefault:"20s"`
}

// EHREnabled reports whether visits are sent to an EHR.
func (e EHR) EHREnabled() bool { return e.FHIRBaseURL != "" }

func (e EHR) problems() []error {
	var errs []error
	switch {
	case e.FHIRBaseURL == "" && e.FHIRBearerToken != "":
		errs = append(errs, problem("FHIR_BEARER_TOKEN is set but FHIR_BASE_URL is empty"))
	case e.FHIRBaseURL != "" && e.FHIRBearerToken == "":
		errs = append(errs, problem("FHIR_BASE_URL is set but FHIR_BEARER_TOKEN is empty"))
	}
	if e.FHIRBaseURL != "" {
		u, err := url.Parse(e.FHIRBaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			u.RawQuery != "" {
			errs = append(errs, problem("FHIR_BASE_URL must be an http(s) URL "+
				"without a query"))
		}
	}
	if e.FHIRTimeout <= 0 {
		errs = append(errs, problem("FHIR_TIMEOUT must be positive"))
	}
	return errs
}

func (e EHR) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("fhir_base_url", phi.RedactURL(e.FHIRBaseURL)), // no user info
		slog.String("fhir_bearer_token", secret(e.FHIRBearerToken)),
		slog.Duration("fhir_timeout", e.FHIRTimeout),
	}
}
