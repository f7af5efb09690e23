// Package twilio texts patients through Twilio's Programmable Messaging API with
// Twilio's own Go library. The library's calls take no context and drop the answer's
// headers on an error, so each send runs on an http.Client of its own whose transport
// carries the activity's context, points at the configured host, and keeps the
// status and Retry-After of the answer.
package twilio

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/vendor"
)

const (
	name   = "twilio"
	opSend = "send sms"
)

// Config configures a Client.
type Config struct {
	AccountSID string
	AuthToken  string
	From       string       // E.164
	APIURL     string       // default https://api.twilio.com
	HTTP       *http.Client // its Timeout and Transport are used for every call
}

// Client sends SMS through Twilio. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
}

// New returns a Client; it makes no network call.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(cmp.Or(cfg.APIURL, "https://api.twilio.com"))
	if err != nil || base.Host == "" {
		return nil, errors.New("twilio: invalid api url")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{cfg: cfg, base: base}, nil
}

// permanentCodes are Twilio error codes that no retry can fix, with what they mean.
var permanentCodes = map[int]string{
	20003: "authentication failed",
	21211: "invalid To number",
	21212: "invalid From number",
	21408: "region not enabled for this account",
	21606: "From number cannot send SMS",
	21610: "recipient has opted out",
	21612: "To number cannot be reached from this From number",
	21614: "To number is not a mobile number",
}

// SendSMS sends one text message.
func (c *Client) SendSMS(ctx context.Context, m activities.SMS) error {
	if m.To == "" {
		return vendor.Permanent(name, opSend, "no recipient")
	}
	rt := &callTransport{ctx: ctx, base: c.base, next: c.cfg.HTTP.Transport}
	svc := api.NewApiServiceWithClient(&twclient.Client{
		Credentials: twclient.NewCredentials(c.cfg.AccountSID, c.cfg.AuthToken),
		HTTPClient:  &http.Client{Timeout: c.cfg.HTTP.Timeout, Transport: rt},
	})
	params := &api.CreateMessageParams{}
	params.SetPathAccountSid(c.cfg.AccountSID)
	params.SetTo(string(m.To))
	params.SetFrom(c.cfg.From)
	params.SetBody(m.Text)

	_, err := svc.CreateMessage(params)
	if err == nil {
		return nil
	}
	return rt.classify(err)
}

// callTransport sends one call's requests with the call's context, to the configured
// host, and remembers the last answer's status and Retry-After.
type callTransport struct {
	ctx  context.Context
	base *url.URL
	next http.RoundTripper

	mu         sync.Mutex
	status     int
	retryAfter string
}

func (t *callTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(t.ctx)
	r.URL.Scheme, r.URL.Host = t.base.Scheme, t.base.Host
	r.URL.Path = strings.TrimSuffix(t.base.Path, "/") + r.URL.Path
	r.Host = ""
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err == nil {
		t.mu.Lock()
		t.status, t.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
		t.mu.Unlock()
	}
	return resp, err
}

// classify turns the library's error into a vendor.Error. Twilio's message is left
// out: it quotes the phone number.
func (t *callTransport) classify(err error) error {
	t.mu.Lock()
	status, ra := t.status, t.retryAfter
	t.mu.Unlock()
	te, isTwilio := errors.AsType[*twclient.TwilioRestError](err)
	if status == 0 && isTwilio {
		// The library refused before sending: credentials it cannot use.
		return &vendor.Error{Vendor: name, Op: opSend, Code: te.Code,
			Detail: "credentials rejected by the client library"}
	}
	if status == 0 {
		return vendor.Transport(name, opSend, err)
	}
	if isTwilio && te.Status != 0 {
		status = te.Status
		e := vendor.FromStatus(name, opSend, status, http.Header{"Retry-After": {ra}},
			time.Now())
		e.Code = te.Code
		if d, known := permanentCodes[te.Code]; known {
			e.Detail, e.Retryable = d, false
		}
		return e
	}
	return vendor.FromStatus(name, opSend, status, http.Header{"Retry-After": {ra}},
		time.Now())
}
