package activities

import (
	"context"
	"encoding/json"

	"github.com/telehealth/sessions/internal/integrations/vendor"
)

// EHR receives a finished visit as FHIR resources (internal/fhir's Client).
type EHR interface {
	// Export writes the visit's Appointment and Encounter so that a repeat of the
	// same record changes nothing (a conditional update on the session identifier).
	Export(ctx context.Context, r EHRRecord) error
}

// EHRRecord is what the EHR export needs of a session. Visit is the session's state
// (a workflows.State, trimmed to what the FHIR resources use) as JSON: this package
// cannot name the type, since the workflows import it. It travels through the
// payload codec like every activity input.
type EHRRecord struct {
	SessionID string          `json:"sessionId"`
	Visit     json.RawMessage `json:"visit"`
}

// SendToEHR writes the visit to the EHR. The workflow calls it only when the session's
// policy says an EHR is configured; a worker without one fails it for good rather
// than report a delivery that did not happen.
func (a *Activities) SendToEHR(ctx context.Context, r EHRRecord) error {
	if a.EHR == nil {
		return classify(vendor.Permanent("ehr", "export",
			"FHIR_BASE_URL is not set on this worker"))
	}
	return classify(a.EHR.Export(ctx, r))
}
