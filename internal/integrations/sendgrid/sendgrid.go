// Package sendgrid sends the session's emails through SendGrid's v3 Mail Send API
// with SendGrid's own Go library. The library returns no error for a 4xx or 5xx
// answer, so every status is checked here.
package sendgrid

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	sg "github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/vendor"
)

const (
	name     = "sendgrid"
	sendPath = "/v3/mail/send"
	opSend   = "send email"
)

// Config configures a Client.
type Config struct {
	APIKey   string
	From     string       // a verified sender
	FromName string       // shown as the sender, e.g. the clinic's name
	APIURL   string       // default https://api.sendgrid.com
	HTTP     *http.Client // must have a timeout
}

// Client sends email through SendGrid. It is safe for concurrent use.
type Client struct {
	cfg  Config
	rest *rest.Client
}

// New returns a Client; it makes no network call.
func New(cfg Config) *Client {
	cfg.APIURL = strings.TrimSuffix(cmp.Or(cfg.APIURL, "https://api.sendgrid.com"), "/")
	return &Client{cfg: cfg, rest: &rest.Client{HTTPClient: cfg.HTTP}}
}

// SendEmail sends one message in plain text and, when it has one, HTML. Click and
// open tracking are off: SendGrid would otherwise rewrite the meeting link through its
// own redirect host, and the link is a credential.
func (c *Client) SendEmail(ctx context.Context, m activities.Email) error {
	msg := mail.NewV3Mail()
	msg.SetFrom(mail.NewEmail(c.cfg.FromName, c.cfg.From))
	msg.Subject = m.Subject
	p := mail.NewPersonalization()
	p.AddTos(mail.NewEmail("", string(m.To)))
	p.SetCustomArg("session_id", m.SessionID)
	msg.AddPersonalizations(p)
	// SendGrid requires text/plain before text/html.
	msg.AddContent(mail.NewContent("text/plain", m.Text))
	if m.HTML != "" {
		msg.AddContent(mail.NewContent("text/html", m.HTML))
	}
	msg.SetTrackingSettings(&mail.TrackingSettings{
		ClickTracking: &mail.ClickTrackingSetting{Enable: ptr(false), EnableText: ptr(false)},
		OpenTracking:  &mail.OpenTrackingSetting{Enable: ptr(false)},
	})

	req := sg.GetRequest(c.cfg.APIKey, sendPath, c.cfg.APIURL)
	req.Method = rest.Post
	req.Body = mail.GetRequestBody(msg)
	resp, err := c.rest.SendWithContext(ctx, req)
	if err != nil {
		return vendor.Transport(name, opSend, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	return statusError(resp, time.Now())
}

// statusError classifies a failed send. SendGrid's error body is
// {"errors":[{"message","field","help"}]}; the fields are kept, the messages are
// not, as they can quote the address.
func statusError(resp *rest.Response, now time.Time) error {
	h := http.Header(resp.Headers)
	e := vendor.FromStatus(name, opSend, resp.StatusCode, h, now)
	if resp.StatusCode == http.StatusTooManyRequests && e.RetryAfter == 0 {
		// SendGrid's rate-limit answer names the reset time as a Unix timestamp.
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			e.RetryAfter = max(time.Unix(reset, 0).Sub(now), 0)
		}
	}
	var body struct {
		Errors []struct {
			Field *string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(resp.Body), &body) == nil {
		var fields []string
		for _, f := range body.Errors {
			if f.Field != nil && *f.Field != "" {
				fields = append(fields, *f.Field)
			}
		}
		if len(fields) > 0 {
			e.Detail = "fields " + strings.Join(fields, ", ")
		}
	}
	return e
}

func ptr[T any](v T) *T { return &v }
