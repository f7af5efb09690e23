// Package triggers hands a finished session to the billing (M04) and follow-up (M05)
// modules: by a signed HTTP webhook in the modules' documented contracts, or, where a
// module runs on the same Temporal cluster, by signal-with-start of its workflow.
package triggers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/vendor"
)

// Headers of a webhook trigger.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of the raw body under the
	// shared secret.
	HeaderSignature = "X-Telehealth-Signature"
	// HeaderAPIKey is the header the modules read their API key from.
	HeaderAPIKey = "x-api-key"
)

// Kinds of trigger; each names its idempotency key and its workflow id suffix.
const (
	KindBilling  = "billing"
	KindFollowUp = "followup"
)

// Target delivers one trigger. key is stable across retries of the same trigger.
type Target interface {
	Deliver(ctx context.Context, key string, payload any) error
}

// Triggers routes each trigger to its configured target, or to the fallback (the
// local outbox) when its module is not configured.
type Triggers struct {
	Billing  Target
	FollowUp Target
	Fallback activities.Triggers
	Currency string // default "usd"
}

// TriggerBilling asks M04 to charge for the session.
func (t *Triggers) TriggerBilling(ctx context.Context, r activities.BillingRequest) error {
	if t.Billing == nil {
		return t.Fallback.TriggerBilling(ctx, r)
	}
	return t.Billing.Deliver(ctx, Key(r.SessionID, KindBilling), BillingPayload(r, t.Currency))
}

// TriggerFollowUp asks M05 to start the post-visit campaign.
func (t *Triggers) TriggerFollowUp(ctx context.Context, r activities.FollowUpRequest) error {
	if t.FollowUp == nil {
		return t.Fallback.TriggerFollowUp(ctx, r)
	}
	return t.FollowUp.Deliver(ctx, Key(r.SessionID, KindFollowUp), FollowUpPayload(r))
}

// Key is a trigger's idempotency key: the session id and the kind. Session ids hold
// no PHI.
func Key(sessionID, kind string) string { return sessionID + "-" + kind }

// Billing is M04's payment request: its enterprise contract (amount in cents as a JSON
// number, customer_email, description, currency, booking_id) and the fields the M03
// documentation adds (session_duration, session_id). session_duration is the billed
// duration, the minutes provider and patient were both in the visit; the booked
// minutes and the visit's real start and end ride along, and no_show marks a visit the
// patient never came to (amount: the clinic's no-show fee; without one, none is sent).
type Billing struct {
	Amount           int        `json:"amount"`
	Currency         string     `json:"currency"`
	CustomerEmail    string     `json:"customer_email"`
	Description      string     `json:"description"`
	BookingID        string     `json:"booking_id"`
	SessionDuration  int        `json:"session_duration"`
	ScheduledMinutes int        `json:"scheduled_duration,omitempty"`
	ActualStart      *time.Time `json:"actual_start,omitempty"`
	ActualEnd        *time.Time `json:"actual_end,omitempty"`
	NoShow           bool       `json:"no_show"`
	SessionID        string     `json:"session_id"`
	IdempotencyKey   string     `json:"idempotency_key"`
}

// BillingPayload builds M04's request.
func BillingPayload(r activities.BillingRequest, currency string) Billing {
	if currency == "" {
		currency = "usd"
	}
	return Billing{
		Amount:           r.AmountCents,
		Currency:         currency,
		CustomerEmail:    string(r.CustomerEmail),
		Description:      r.Description,
		BookingID:        r.BookingID,
		SessionDuration:  r.DurationMinutes,
		ScheduledMinutes: r.ScheduledMinutes,
		ActualStart:      r.ActualStart,
		ActualEnd:        r.ActualEnd,
		NoShow:           r.NoShow,
		SessionID:        r.SessionID,
		IdempotencyKey:   Key(r.SessionID, KindBilling),
	}
}

// FollowUp is M05's campaign request. M05's enterprise contract requires
// campaign_type, recipients, channel and a message of 10 characters or more; the M03
// documentation's mapping (patient_email, session_date, provider_name,
// follow_up_type) rides along.
type FollowUp struct {
	CampaignType   string   `json:"campaign_type"`
	Recipients     []string `json:"recipients"`
	Channel        string   `json:"channel"`
	Subject        string   `json:"subject"`
	Message        string   `json:"message"`
	PatientEmail   string   `json:"patient_email"`
	SessionDate    string   `json:"session_date"`
	ProviderName   string   `json:"provider_name,omitempty"`
	FollowUpType   string   `json:"follow_up_type"`
	BookingID      string   `json:"booking_id"`
	SessionID      string   `json:"session_id"`
	IdempotencyKey string   `json:"idempotency_key"`
}

// FollowUpPayload builds M05's request.
func FollowUpPayload(r activities.FollowUpRequest) FollowUp {
	date := r.VisitDate.UTC().Format(time.DateOnly)
	return FollowUp{
		CampaignType: "followup",
		Recipients:   []string{string(r.PatientEmail)},
		Channel:      "email",
		Subject:      "Following up on your telehealth visit",
		Message: "Thank you for your telehealth visit on " + date +
			". We would like to hear how you are doing.",
		PatientEmail:   string(r.PatientEmail),
		SessionDate:    r.VisitDate.UTC().Format(time.RFC3339),
		ProviderName:   r.ProviderName,
		FollowUpType:   "post_telehealth",
		BookingID:      r.BookingID,
		SessionID:      r.SessionID,
		IdempotencyKey: Key(r.SessionID, KindFollowUp),
	}
}

// Webhook posts triggers to a module's URL, signed.
type Webhook struct {
	Name   string // "billing" or "followup", for errors
	URL    string
	APIKey string // optional
	Secret []byte
	HTTP   *http.Client
}

// Sign returns the signature header's value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Deliver posts the payload. A 409 means the module already has this key: success.
func (w *Webhook) Deliver(ctx context.Context, key string, payload any) error {
	op := "trigger " + w.Name
	body, err := json.Marshal(payload)
	if err != nil {
		return vendor.Permanent(w.Name, op, "encode payload")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return vendor.Permanent(w.Name, op, "invalid webhook url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set(HeaderSignature, Sign(w.Secret, body))
	if w.APIKey != "" {
		req.Header.Set(HeaderAPIKey, w.APIKey)
	}
	resp, err := w.HTTP.Do(req)
	if err != nil {
		return vendor.Transport(w.Name, op, err)
	}
	answer, _ := vendor.ReadBody(resp)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 ||
		resp.StatusCode == http.StatusConflict {
		return nil
	}
	e := vendor.FromStatus(w.Name, op, resp.StatusCode, resp.Header, time.Now())
	e.Detail = validationDetail(answer)
	return e
}

// validationDetail keeps the modules' validation_errors: fixed texts that name a field
// and a rule ("amount (must be greater than 0)"), never a value.
func validationDetail(body []byte) string {
	var b struct {
		ErrorCode        string   `json:"error_code"`
		ValidationErrors []string `json:"validation_errors"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	var parts []string
	for _, v := range b.ValidationErrors {
		if len(v) <= 80 && !strings.Contains(v, "@") {
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		return b.ErrorCode
	}
	return strings.Join(parts, "; ")
}

// Signal delivers triggers by signal-with-start: the module's workflow for this
// session is started if it does not exist yet, and signalled with the payload. Its
// workflow id is the trigger's key, and a closed one is never started again, so a
// retried trigger reaches the module once.
//
// The payload holds the patient's email: Client must be the service's own (it seals
// payloads with the payload codec), and the module's worker needs the same
// PAYLOAD_KEYS to read it.
type Signal struct {
	Name         string
	Client       client.Client
	WorkflowType string
	TaskQueue    string
	SignalName   string
}

// Deliver signals, starting the workflow if needed.
func (s *Signal) Deliver(ctx context.Context, key string, payload any) error {
	op := "signal " + s.Name
	_, err := s.Client.SignalWithStartWorkflow(ctx, key, s.SignalName, payload,
		client.StartWorkflowOptions{
			ID:                    key,
			TaskQueue:             s.TaskQueue,
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		}, s.WorkflowType)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case err == nil, errors.As(err, &started):
		return nil
	case isPermanent(err):
		return &vendor.Error{Vendor: s.Name, Op: op, Detail: "rejected by temporal"}
	default:
		return &vendor.Error{Vendor: s.Name, Op: op, Detail: "temporal unavailable",
			Retryable: true, Err: err}
	}
}

func isPermanent(err error) bool {
	var (
		invalid   *serviceerror.InvalidArgument
		denied    *serviceerror.PermissionDenied
		namespace *serviceerror.NamespaceNotFound
	)
	return errors.As(err, &invalid) || errors.As(err, &denied) || errors.As(err, &namespace)
}
