package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/telehealth/sessions/internal/integrations/triggers"
	"github.com/telehealth/sessions/internal/integrations/vendortest"
)

// The billing (M04) and follow-up (M05) modules' credentials, which the worker is
// given as TRIGGER_API_KEY and TRIGGER_SIGNING_SECRET.
const (
	triggerKey    = "drill-trigger-key-0123456789abcdef"
	triggerSecret = "drill-trigger-secret-0123456789abcdef"
)

// fakeTB lets the drill start vendortest's servers, which a test would close through
// its Cleanup: the drill keeps the cleanups and runs them when it closes.
type fakeTB struct {
	testing.TB
	cleanups []func()
}

func (t *fakeTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *fakeTB) Helper() {}

func (t *fakeTB) close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// modules are the billing and follow-up modules' local webhooks, which check what the
// modules check (API key, signature, idempotency key, required fields) and accept a
// repeated idempotency key once. The drill counts the triggers there, not in the
// worker's own records.
type modules struct {
	tb                fakeTB
	billing, followUp *vendortest.Webhook
	billingURL, fuURL string
}

func newModules() *modules {
	m := &modules{}
	m.billing = vendortest.NewBilling(&m.tb, triggerKey, []byte(triggerSecret))
	m.followUp = vendortest.NewFollowUp(&m.tb, triggerKey, []byte(triggerSecret))
	m.billingURL = m.billing.URL() + m.billing.Path()
	m.fuURL = m.followUp.URL() + m.followUp.Path()
	return m
}

// env is the worker's configuration of the two modules.
func (m *modules) env() []string {
	return []string{
		"BILLING_WEBHOOK_URL=" + m.billingURL,
		"FOLLOWUP_WEBHOOK_URL=" + m.fuURL,
		"TRIGGER_API_KEY=" + triggerKey,
		"TRIGGER_SIGNING_SECRET=" + triggerSecret,
		"SESSION_FEE_CENTS=5000",
	}
}

// trigger is what one module saw of one session: the requests that reached it, the
// ones it answered 2xx to (a repeated key is answered but not acted on), the keys
// they carried, and the body it acted on.
type trigger struct {
	requests int
	keys     map[string]bool
	accepted int
	bill     triggers.Billing
}

// readTriggers reads a module's requests and accepted bodies by session id.
func readTriggers(h *vendortest.Webhook) (map[string]*trigger, error) {
	out := map[string]*trigger{}
	get := func(body []byte) (*trigger, triggers.Billing, error) {
		var b triggers.Billing // session_id is all a follow-up shares with it
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, b, fmt.Errorf("module body: %w", err)
		}
		t := out[b.SessionID]
		if t == nil {
			t = &trigger{keys: map[string]bool{}}
			out[b.SessionID] = t
		}
		return t, b, nil
	}
	for _, r := range h.Requests() {
		if r.Method != http.MethodPost {
			continue
		}
		t, _, err := get(r.Body)
		if err != nil {
			return nil, err
		}
		t.requests++
		t.keys[r.Header.Get(triggers.HeaderIdempotencyKey)] = true
	}
	for _, body := range h.Posts() {
		t, b, err := get(body)
		if err != nil {
			return nil, err
		}
		t.accepted++
		t.bill = b
	}
	return out, nil
}

func (m *modules) close() { m.tb.close() }
