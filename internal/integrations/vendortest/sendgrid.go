package vendortest

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
)

// SendGrid is a local SendGrid v3 Mail Send endpoint.
type SendGrid struct {
	base
	key  string
	mu   sync.Mutex
	sent []SGMail
}

// SGMail is a message SendGrid accepted, as its v3 body has it.
type SGMail struct {
	Personalizations []struct {
		To []struct {
			Email string `json:"email"`
		} `json:"to"`
		CustomArgs map[string]string `json:"custom_args"`
	} `json:"personalizations"`
	From struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"from"`
	Subject string `json:"subject"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
	TrackingSettings struct {
		ClickTracking struct {
			Enable bool `json:"enable"`
		} `json:"click_tracking"`
	} `json:"tracking_settings"`
}

// To is the message's first recipient.
func (m SGMail) To() string { return m.Personalizations[0].To[0].Email }

// Part is the message's content of the given type ("text/plain", "text/html").
func (m SGMail) Part(typ string) string {
	for _, c := range m.Content {
		if c.Type == typ {
			return c.Value
		}
	}
	return ""
}

// NewSendGrid starts a SendGrid that accepts the given API key.
func NewSendGrid(t testing.TB, apiKey string) *SendGrid {
	s := &SendGrid{key: apiKey}
	s.start(t, s.serve)
	return s
}

// Sent returns the accepted messages.
func (s *SendGrid) Sent() []SGMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SGMail(nil), s.sent...)
}

// sgError is SendGrid's error body.
func sgError(message string, field any) map[string]any {
	return map[string]any{"errors": []map[string]any{
		{"message": message, "field": field, "help": nil},
	}}
}

func (s *SendGrid) serve(w http.ResponseWriter, r *http.Request) {
	req, fault := s.record(r)
	wait(r, fault)
	if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
		writeJSON(w, http.StatusNotFound, sgError("not found", nil))
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.key {
		writeJSON(w, http.StatusUnauthorized,
			sgError("The provided authorization grant is invalid, expired, or revoked", nil))
		return
	}
	if fault != nil && !fault.Accept {
		answerFault(w, fault, func(int) any { return sgError("fault", nil) })
		return
	}
	var m SGMail
	if err := json.Unmarshal(req.Body, &m); err != nil {
		writeJSON(w, http.StatusBadRequest, sgError("Bad Request", nil))
		return
	}
	switch {
	case len(m.Personalizations) == 0 || len(m.Personalizations[0].To) == 0 ||
		m.Personalizations[0].To[0].Email == "":
		writeJSON(w, http.StatusBadRequest, sgError(
			"The personalizations field is required.", "personalizations"))
		return
	case m.From.Email == "":
		writeJSON(w, http.StatusBadRequest, sgError(
			"The from email does not contain a valid address.", "from.email"))
		return
	case m.Subject == "":
		writeJSON(w, http.StatusBadRequest, sgError("The subject is required.", "subject"))
		return
	case len(m.Content) == 0 || m.Content[0].Type != "text/plain":
		writeJSON(w, http.StatusBadRequest, sgError(
			"The text/plain content type must be first.", "content"))
		return
	}
	s.mu.Lock()
	s.sent = append(s.sent, m)
	s.mu.Unlock()
	if fault != nil {
		answerFault(w, fault, func(int) any { return sgError("fault", nil) })
		return
	}
	w.Header().Set("X-Message-Id", "sg-message-id")
	w.WriteHeader(http.StatusAccepted)
}
