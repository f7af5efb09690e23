package activities

import (
	"context"
	"encoding/json"
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

// SendToEHR writes the visit to the EHR. With no EHR configured it does nothing (the
// workflow does not call it then).
func (a *Activities) SendToEHR(ctx context.Context, r EHRRecord) error {
	if a.EHR == nil {
		return nil
	}
	return classify(a.EHR.Export(ctx, r))
}
