// Package staff posts masked notices to the staff channel: a Slack incoming webhook
// ({"text": ...}) or a Microsoft Teams Workflows webhook (a message carrying an
// Adaptive Card). What it receives is already masked and holds no link.
package staff

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/vendor"
)

// Formats of the staff channel.
const (
	Slack = "slack"
	Teams = "teams"
)

const opNotify = "notify staff"

// Webhook posts notices to one webhook URL. It is safe for concurrent use.
type Webhook struct {
	url    string
	format string
	http   *http.Client
}

// New returns a Webhook for a Slack or Teams URL; the URL is itself a credential.
func New(url, format string, hc *http.Client) *Webhook {
	return &Webhook{url: url, format: format, http: hc}
}

// Notify posts one notice.
func (w *Webhook) Notify(ctx context.Context, n activities.StaffNotice) error {
	var body any
	if w.format == Teams {
		body = teamsMessage(n)
	} else {
		body = map[string]string{"text": slackText(n)}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return vendor.Permanent(w.format, opNotify, "encode notice")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(b))
	if err != nil {
		return vendor.Permanent(w.format, opNotify, "invalid webhook url")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.http.Do(req)
	if err != nil {
		return vendor.Transport(w.format, opNotify, err)
	}
	body2, _ := vendor.ReadBody(resp)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	e := vendor.FromStatus(w.format, opNotify, resp.StatusCode, resp.Header, time.Now())
	if w.format == Slack {
		// Slack answers with a short plain-text reason: invalid_payload, no_service,
		// channel_is_archived, action_prohibited... It never echoes the message.
		if reason := strings.TrimSpace(string(body2)); isToken(reason) {
			e.Detail = reason
		}
	}
	return e
}

// isToken reports whether s looks like one of Slack's error tokens.
func isToken(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

func slackText(n activities.StaffNotice) string {
	return "*" + n.Title + "*\n" + strings.Join(n.Lines, "\n")
}

// teamsMessage is the body a Teams Workflows webhook ("Post to a channel when a
// webhook request is received") takes: a message with one Adaptive Card attachment.
func teamsMessage(n activities.StaffNotice) map[string]any {
	items := []map[string]any{{
		"type": "TextBlock", "text": n.Title, "weight": "Bolder", "size": "Medium",
		"wrap": true,
	}}
	for _, l := range n.Lines {
		items = append(items, map[string]any{"type": "TextBlock", "text": l, "wrap": true})
	}
	return map[string]any{
		"type": "message",
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard",
				"version": "1.4",
				"body":    items,
			},
		}},
	}
}
