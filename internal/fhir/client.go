package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/workflows"
)

// vendorName names the EHR in errors, metrics and BAA_VENDORS.
const vendorName = "ehr"

// MediaType is the content type of the resources the client sends.
const MediaType = "application/fhir+json"

// Client writes a session's Appointment and Encounter to a FHIR R4 server, each as a
// conditional update on the session identifier (PUT [base]/Appointment?identifier=
// system|id): the server creates the resource the first time and updates it after,
// so a retried call never makes a second one. It is activities.EHR.
type Client struct {
	// BaseURL is the server's base, without a trailing slash.
	BaseURL string
	// Token is sent as a bearer token.
	Token string
	// HTTP makes the calls; its Timeout bounds each.
	HTTP *http.Client
	// Now is the clock that Retry-After dates are read against; nil is time.Now.
	Now func() time.Time
}

// Vendor names the client's vendor for the side-effect metrics.
func (c *Client) Vendor() string { return vendorName }

// Export builds the resources from the record's state and PUTs both, the Appointment
// first. The Encounter points at the Appointment by its identifier, which both
// servers and retries agree on, not by a server id.
func (c *Client) Export(ctx context.Context, r activities.EHRRecord) error {
	var s workflows.State
	if err := json.Unmarshal(r.Visit, &s); err != nil {
		return vendor.Permanent(vendorName, "read visit", "the visit does not decode")
	}
	if s.SessionID == "" {
		s.SessionID = r.SessionID
	}
	if s.SessionID == "" {
		return vendor.Permanent(vendorName, "read visit", "no session id")
	}

	appt := Appointment(s)
	if err := c.put(ctx, "Appointment", s.SessionID, appt); err != nil {
		return err
	}
	enc := Encounter(s, "")
	enc.Appointment = []r4.Reference{{Type: str("Appointment"),
		Identifier: ptr(sessionIdentifier(s))}}
	return c.put(ctx, "Encounter", s.SessionID, enc)
}

// ConditionalURL is where a session's resource of the given type is PUT.
func ConditionalURL(base, resourceType, sessionID string) string {
	q := url.Values{"identifier": {SessionIDSystem + "|" + sessionID}}
	return strings.TrimRight(base, "/") + "/" + resourceType + "?" + q.Encode()
}

// put sends one resource. A non-2xx answer becomes a classified vendor.Error that
// names the status only: an OperationOutcome's text may quote the resource, so it
// is read and dropped.
func (c *Client) put(ctx context.Context, resourceType, sessionID string, res any) error {
	op := "put " + resourceType
	body, err := json.Marshal(res)
	if err != nil {
		return vendor.Permanent(vendorName, op, "the resource does not encode")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut,
		ConditionalURL(c.BaseURL, resourceType, sessionID), bytes.NewReader(body))
	if err != nil {
		return vendor.Permanent(vendorName, op, "bad FHIR_BASE_URL")
	}
	req.Header.Set("Content-Type", MediaType)
	req.Header.Set("Accept", MediaType)
	req.Header.Set("Authorization", "Bearer "+c.Token)

	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return vendor.Transport(vendorName, op, err)
	}
	_, _ = vendor.ReadBody(resp)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	e := vendor.FromStatus(vendorName, op, resp.StatusCode, resp.Header, now())
	if resp.StatusCode == http.StatusPreconditionFailed {
		// More than one resource matched the identifier: a person must look.
		e.Detail = "several resources carry the session identifier"
	}
	return e
}

var _ activities.EHR = (*Client)(nil)
