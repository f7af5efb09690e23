// Package vendor is what every vendor integration shares: a classified error that
// tells the activity layer whether a retry can help and how long to wait, and the
// reading of HTTP answers into it. Its messages carry the vendor, operation, status
// and the vendor's error code, never a recipient, a secret or a request URL.
package vendor

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody is how much of an answer a client reads.
const maxBody = 1 << 20

// Error is a failed vendor call.
type Error struct {
	Vendor     string        // "sendgrid", "twilio", ...
	Op         string        // what was attempted, e.g. "send email"
	Status     int           // HTTP status; 0 when no answer arrived
	Code       int           // the vendor's own error code, when it gave one
	Detail     string        // a PHI-free detail: a field name, a known code's meaning
	Retryable  bool          // a later attempt may succeed
	RetryAfter time.Duration // how long the vendor asked us to wait, when it said
	Err        error         // the transport fault behind a Status 0 error
}

// Error describes the failure without PHI or secrets.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Vendor + ": " + e.Op)
	if e.Status != 0 {
		b.WriteString(": status " + strconv.Itoa(e.Status))
	}
	if e.Code != 0 {
		b.WriteString(" code " + strconv.Itoa(e.Code))
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if !e.Retryable {
		b.WriteString(" (permanent)")
	}
	return b.String()
}

// Unwrap returns the transport fault. Its text stays out of Error: net/http puts the
// request URL in it, and some vendors' URLs carry credentials.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether an HTTP status is worth another attempt: 408, 429 and 5xx
// are; every other 4xx is permanent.
func Retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests ||
		status >= 500
}

// FromStatus classifies a non-2xx answer. A Retry-After header is honoured on any
// retryable status.
func FromStatus(vendorName, op string, status int, h http.Header, now time.Time) *Error {
	e := &Error{Vendor: vendorName, Op: op, Status: status, Retryable: Retryable(status)}
	if e.Retryable {
		e.RetryAfter = RetryAfter(h.Get("Retry-After"), now)
	}
	return e
}

// Transport classifies a call that got no answer: always retryable.
func Transport(vendorName, op string, err error) *Error {
	detail := "no response"
	ne, isNet := errors.AsType[net.Error](err)
	if errors.Is(err, context.DeadlineExceeded) || (isNet && ne.Timeout()) {
		detail = "timeout"
	}
	return &Error{Vendor: vendorName, Op: op, Detail: detail, Retryable: true, Err: err}
}

// Permanent returns a non-retryable error for a fault found before any call, such
// as a recipient the vendor would refuse.
func Permanent(vendorName, op, detail string) *Error {
	return &Error{Vendor: vendorName, Op: op, Detail: detail}
}

// ReadBody reads at most 1 MiB of an answer and closes it.
func ReadBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, maxBody))
}

// RetryAfter reads a Retry-After header, seconds or an HTTP date; 0 when it says
// nothing usable.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
