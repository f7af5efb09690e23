package vendortest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Webhook is a local incoming webhook: a Slack channel, a Teams Workflows trigger, or
// the billing (M04) or follow-up (M05) module.
type Webhook struct {
	base
	path   string
	check  func(r *http.Request, body []byte) (status int, answer any)
	mu     sync.Mutex
	posts  [][]byte
	keys   map[string]bool
	apiKey string
	secret []byte
}

// Posts returns the bodies the webhook accepted; a repeated idempotency key is
// accepted once.
func (h *Webhook) Posts() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.posts...)
}

// Path is where the webhook listens; URL()+Path() is its address.
func (h *Webhook) Path() string { return h.path }

func newWebhook(t testing.TB, path string) *Webhook {
	h := &Webhook{path: path, keys: map[string]bool{}}
	h.start(t, h.serve)
	return h
}

func (h *Webhook) serve(w http.ResponseWriter, r *http.Request) {
	req, fault := h.record(r)
	wait(r, fault)
	if r.Method != http.MethodPost || r.URL.Path != h.path {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	if fault != nil && !fault.Accept {
		answerFault(w, fault, func(s int) any { return map[string]any{"error": "fault"} })
		return
	}
	status, answer := h.check(r, req.Body)
	if status >= 300 {
		if s, ok := answer.(string); ok {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, s)
			return
		}
		writeJSON(w, status, answer)
		return
	}
	h.mu.Lock()
	key := r.Header.Get("Idempotency-Key")
	if key == "" || !h.keys[key] {
		h.posts = append(h.posts, req.Body)
	}
	if key != "" {
		h.keys[key] = true
	}
	h.mu.Unlock()
	if fault != nil {
		answerFault(w, fault, func(int) any { return map[string]any{"error": "fault"} })
		return
	}
	if s, ok := answer.(string); ok {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, s)
		return
	}
	writeJSON(w, status, answer)
}

// NewSlack starts a Slack incoming webhook. Like Slack's, it takes {"text": ...} and
// answers "ok", or a plain-text error token.
func NewSlack(t testing.TB) *Webhook {
	h := newWebhook(t, "/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX")
	h.check = func(r *http.Request, body []byte) (int, any) {
		var m map[string]any
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") ||
			json.Unmarshal(body, &m) != nil {
			return http.StatusBadRequest, "invalid_payload"
		}
		if text, _ := m["text"].(string); text == "" {
			return http.StatusBadRequest, "no_text"
		}
		return http.StatusOK, "ok"
	}
	return h
}

// NewTeams starts a Teams Workflows webhook. It takes a message whose attachments are
// Adaptive Cards and answers 202, or a 400 with the Logic Apps error body.
func NewTeams(t testing.TB) *Webhook {
	h := newWebhook(t, "/workflows/a1b2c3/triggers/manual/paths/invoke")
	h.check = func(r *http.Request, body []byte) (int, any) {
		var m struct {
			Type        string `json:"type"`
			Attachments []struct {
				ContentType string `json:"contentType"`
				Content     struct {
					Type string           `json:"type"`
					Body []map[string]any `json:"body"`
				} `json:"content"`
			} `json:"attachments"`
		}
		bad := map[string]any{"error": map[string]any{
			"code": "TriggerInputSchemaMismatch",
			"message": "The input body for trigger 'manual' of type 'Request' did " +
				"not match its schema definition.",
		}}
		if json.Unmarshal(body, &m) != nil || m.Type != "message" ||
			len(m.Attachments) == 0 {
			return http.StatusBadRequest, bad
		}
		for _, a := range m.Attachments {
			if a.ContentType != "application/vnd.microsoft.card.adaptive" ||
				a.Content.Type != "AdaptiveCard" || len(a.Content.Body) == 0 {
				return http.StatusBadRequest, bad
			}
		}
		return http.StatusAccepted, nil
	}
	return h
}

// moduleEmail is the modules' email rule.
var moduleEmail = regexp.MustCompile(`^[^\s@]+@[^\s@]+\.[^\s@]+$`)

// module adds the modules' authentication and our signature check.
func (h *Webhook) module(validate func(m map[string]any) []string) {
	h.check = func(r *http.Request, body []byte) (int, any) {
		if r.Header.Get("x-api-key") != h.apiKey {
			return http.StatusUnauthorized, map[string]any{"success": false,
				"error": "Unauthorized: Invalid or missing API key", "error_code": "AUTH_FAILED"}
		}
		mac := hmac.New(sha256.New, h.secret)
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(r.Header.Get("X-Telehealth-Signature")), []byte(want)) {
			return http.StatusUnauthorized, map[string]any{"success": false,
				"error": "Invalid signature", "error_code": "AUTH_FAILED"}
		}
		if r.Header.Get("Idempotency-Key") == "" {
			return http.StatusBadRequest, map[string]any{"success": false,
				"error": "Idempotency-Key header required", "error_code": "VALIDATION_ERROR"}
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return http.StatusBadRequest, map[string]any{"success": false,
				"error": "Invalid JSON", "error_code": "VALIDATION_ERROR"}
		}
		if errs := validate(m); len(errs) > 0 {
			return http.StatusBadRequest, map[string]any{"success": false,
				"error": "Missing or invalid required fields: " +
					strings.Join(errs, ", "),
				"error_code":        "VALIDATION_ERROR",
				"validation_errors": errs}
		}
		return http.StatusOK, map[string]any{"success": true}
	}
}

// NewBilling starts the billing module's payment webhook (POST
// /webhook/billing-payment), with its enterprise validation.
func NewBilling(t testing.TB, apiKey string, secret []byte) *Webhook {
	h := newWebhook(t, "/webhook/billing-payment")
	h.apiKey, h.secret = apiKey, secret
	h.module(func(m map[string]any) []string {
		var errs []string
		amount, isNum := m["amount"].(float64)
		switch {
		case !isNum || amount <= 0:
			errs = append(errs, "amount (must be greater than 0)")
		case amount > 100000:
			errs = append(errs, "amount (maximum $1000.00 per transaction)")
		}
		if e, _ := m["customer_email"].(string); !moduleEmail.MatchString(e) {
			errs = append(errs, "customer_email (valid email required)")
		}
		if d, _ := m["description"].(string); d == "" {
			errs = append(errs, "description (required)")
		}
		return errs
	})
	return h
}

// NewFollowUp starts the follow-up module's campaign webhook (POST
// /webhook/followup-campaign), with its enterprise validation.
func NewFollowUp(t testing.TB, apiKey string, secret []byte) *Webhook {
	h := newWebhook(t, "/webhook/followup-campaign")
	h.apiKey, h.secret = apiKey, secret
	h.module(func(m map[string]any) []string {
		var errs []string
		if s, _ := m["campaign_type"].(string); s == "" {
			errs = append(errs, "campaign_type (required: followup|retention|reminder)")
		}
		if r, _ := m["recipients"].([]any); len(r) == 0 {
			errs = append(errs, "recipients (array of email/phone required)")
		}
		if s, _ := m["channel"].(string); s == "" {
			errs = append(errs, "channel (required: email|sms|both)")
		}
		if s, _ := m["message"].(string); len(s) < 10 {
			errs = append(errs, "message (minimum 10 characters required)")
		}
		return errs
	})
	return h
}
