package vendortest

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Twilio is a local Twilio Programmable Messaging endpoint
// (POST /2010-04-01/Accounts/{AccountSid}/Messages.json).
type Twilio struct {
	base
	sid, token string
	mu         sync.Mutex
	sent       []url.Values
}

// NewTwilio starts a Twilio for one account.
func NewTwilio(t testing.TB, accountSID, authToken string) *Twilio {
	tw := &Twilio{sid: accountSID, token: authToken}
	tw.start(t, tw.serve)
	return tw
}

// Sent returns the form of each accepted message (To, From, Body).
func (tw *Twilio) Sent() []url.Values {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return append([]url.Values(nil), tw.sent...)
}

// TwilioError is Twilio's error body.
func TwilioError(status, code int, message string) map[string]any {
	return map[string]any{
		"code": code, "message": message, "status": status,
		"more_info": "https://www.twilio.com/docs/errors/" + itoa(code),
	}
}

var twilioE164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (tw *Twilio) serve(w http.ResponseWriter, r *http.Request) {
	_, fault := tw.record(r)
	wait(r, fault)
	want := "/2010-04-01/Accounts/" + tw.sid + "/Messages.json"
	if r.Method != http.MethodPost || r.URL.Path != want {
		writeJSON(w, http.StatusNotFound, TwilioError(404, 20404,
			"The requested resource "+r.URL.Path+" was not found"))
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != tw.sid || p != tw.token {
		writeJSON(w, http.StatusUnauthorized, TwilioError(401, 20003, "Authenticate"))
		return
	}
	if fault != nil && !fault.Accept {
		answerFault(w, fault, func(s int) any {
			if s == http.StatusTooManyRequests {
				return TwilioError(s, 20429, "Too Many Requests")
			}
			return TwilioError(s, 20500, "Internal Server Error")
		})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		writeJSON(w, http.StatusBadRequest, TwilioError(400, 20001, "Invalid content type"))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, TwilioError(400, 20001, "Invalid form"))
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	switch {
	case to == "":
		writeJSON(w, http.StatusBadRequest,
			TwilioError(400, 21604, "A 'To' phone number is required."))
		return
	case !twilioE164.MatchString(to):
		writeJSON(w, http.StatusBadRequest,
			TwilioError(400, 21211, "Invalid 'To' Phone Number: "+to))
		return
	case strings.HasPrefix(to, "+1555010"):
		// Test numbers that stand for landlines.
		writeJSON(w, http.StatusBadRequest, TwilioError(400, 21614,
			"'To' number "+to+" is not a valid mobile number"))
		return
	case from == "":
		writeJSON(w, http.StatusBadRequest, TwilioError(400, 21603,
			"A 'From' phone number is required."))
		return
	case body == "":
		writeJSON(w, http.StatusBadRequest, TwilioError(400, 21602,
			"Message body is required."))
		return
	}
	tw.mu.Lock()
	tw.sent = append(tw.sent, r.PostForm)
	n := len(tw.sent)
	tw.mu.Unlock()
	if fault != nil {
		answerFault(w, fault, func(s int) any { return TwilioError(s, 20500, "fault") })
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"sid": "SM" + strings.Repeat("0", 30) + pad2(n), "account_sid": tw.sid,
		"to": to, "from": from, "body": body, "status": "queued",
		"num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
		"uri": want,
	})
}
