// Package vendortest holds local HTTP servers that speak the vendors' wire formats
// (SendGrid, Twilio, Google OAuth and Sheets, Google Calendar, Slack, Teams and the
// billing and follow-up modules): they check what the vendor checks (path, method,
// auth, required fields), answer as it does, error bodies included, and record what
// they accepted. Faults can be queued to test each class of failure. Tests and the
// full-lifecycle run use them; nothing in production does.
package vendortest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Fault is an answer to give instead of the normal one. The zero Fault lets its
// request through, so that a fault can be aimed at a later request.
type Fault struct {
	Status     int           // HTTP status to answer with
	Body       string        // body; the vendor's usual error body when empty
	RetryAfter string        // Retry-After header, when set
	Delay      time.Duration // wait this long first (to provoke client timeouts)
	// Accept makes the server do the work and then answer with the fault, like a
	// vendor whose answer is lost after it acted.
	Accept bool
}

// Request is one request a server received.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// base is what every fake shares: the request log and the fault queue.
type base struct {
	mu       sync.Mutex
	requests []Request
	faults   []Fault
	srv      *httptest.Server
}

// Inject queues faults: the next requests get them, in order.
func (b *base) Inject(f ...Fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults = append(b.faults, f...)
}

// Requests returns every request received, faulted ones included.
func (b *base) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.requests...)
}

// URL is the server's base URL.
func (b *base) URL() string { return b.srv.URL }

// record logs the request and returns the fault to apply, if any.
func (b *base) record(r *http.Request) (Request, *Fault) {
	return b.log(r, true)
}

// log logs the request and, when faulty is set, takes the next fault.
func (b *base) log(r *http.Request, faulty bool) (Request, *Fault) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests = append(b.requests, req)
	if len(b.faults) == 0 || !faulty {
		return req, nil
	}
	f := b.faults[0]
	b.faults = b.faults[1:]
	if f == (Fault{}) {
		return req, nil
	}
	return req, &f
}

// start serves h and closes the server when the test ends.
func (b *base) start(t testing.TB, h http.HandlerFunc) {
	b.srv = httptest.NewServer(h)
	t.Cleanup(b.srv.Close)
}

// answerFault writes a fault; defaultBody builds the vendor's error body for a status.
func answerFault(w http.ResponseWriter, f *Fault, defaultBody func(int) any) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	writeJSON(w, f.Status, defaultBody(f.Status))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// wait sleeps for a fault's delay, or until the client gives up.
func wait(r *http.Request, f *Fault) {
	if f == nil || f.Delay == 0 {
		return
	}
	select {
	case <-time.After(f.Delay):
	case <-r.Context().Done():
	}
}
