// Package session defines a telehealth booking request and its validation. The HTTP
// API builds a Booking with Parse. The workflow checks its input again with
// Booking.Validate.
//
// Nothing here reads the clock or the environment: the current time comes in through
// Limits. The one piece of I/O is time.LoadLocation, which reads the zone database
// (the system's, or the copy that time/tzdata embeds). Its answers change only when
// that database changes.
package session

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/telehealth/sessions/internal/phi"
)

// Policy values. Lengths are counted in characters (runes), not bytes.
const (
	minDuration   = 15  // minutes
	maxDuration   = 120 // minutes
	maxIDLen      = 100
	maxEmailLen   = 254
	maxNameLen    = 100
	maxNotesLen   = 2000
	maxTraceIDLen = 128
)

// Booking is a normalised booking request. It travels to the workflow as a Temporal
// payload, so its PHI fields marshal to their raw values (see package phi).
type Booking struct {
	BookingID       string    `json:"bookingId"`
	PatientEmail    phi.Email `json:"patientEmail"` // trimmed and lower-cased
	PatientName     phi.Name  `json:"patientName,omitempty"`
	PatientPhone    phi.Phone `json:"patientPhone,omitempty"` // E.164
	ProviderName    string    `json:"providerName,omitempty"`
	ProviderEmail   string    `json:"providerEmail,omitempty"` // trimmed and lower-cased
	ProviderNotes   phi.Text  `json:"providerNotes,omitempty"`
	ScheduledStart  time.Time `json:"scheduledStart"`     // UTC
	StartDefaulted  bool      `json:"-"`                  // no time was asked for
	Timezone        string    `json:"timezone,omitempty"` // IANA name, or ""
	DurationMinutes int       `json:"durationMinutes"`
	TraceID         string    `json:"traceId,omitempty"`
}

// DefaultMaxAhead is how far ahead a session may be booked, or moved, by default.
const DefaultMaxAhead = 365 * 24 * time.Hour

// Limits holds what validation needs from outside: the current time and the policy.
// Every zero field except Now means its default.
type Limits struct {
	Now             time.Time     // required; workflow.Now in a workflow
	DefaultDuration int           // minutes when the request gives none; default 30
	PastTolerance   time.Duration // how far before Now a start may be; default 5 minutes
	MaxAhead        time.Duration // how far after Now a start may be; default 365 days
}

func (l Limits) withDefaults() (Limits, error) {
	if l.Now.IsZero() {
		return l, errors.New("session limits: Now is not set")
	}
	if l.DefaultDuration == 0 {
		l.DefaultDuration = 30
	}
	if l.PastTolerance == 0 {
		l.PastTolerance = 5 * time.Minute
	}
	if l.MaxAhead == 0 {
		l.MaxAhead = DefaultMaxAhead
	}
	if checkDuration(l.DefaultDuration) != "" || l.PastTolerance < 0 || l.MaxAhead < 0 {
		return l, errors.New("session limits: out of range")
	}
	return l, nil
}

// ValidationError lists every problem found in a booking, each in the form
// "field (what is wrong)". A problem never quotes the submitted value, which may be PHI.
type ValidationError struct {
	Problems []string
}

// Error uses the wording of the original service's 400 response.
func (e *ValidationError) Error() string {
	return "Missing or invalid required fields: " + strings.Join(e.Problems, ", ")
}

// Validate checks b's invariants against lim. The workflow calls it on its input, as a
// defence in depth behind Parse. The start time is checked against lim.Now, so call it
// once, when the workflow starts. The error is a *ValidationError when b is invalid.
func (b Booking) Validate(lim Limits) error {
	lim, err := lim.withDefaults()
	if err != nil {
		return err
	}
	return b.check(lim, nil)
}

// check returns a *ValidationError listing b's problems, or nil. known overrides the
// checks for the fields it holds: the decoder already found their problem, or "" when
// another field's problem covers it.
func (b Booking) check(lim Limits, known map[string]string) error {
	var problems []string
	for _, c := range b.checks(lim) {
		if what, ok := known[c.field]; ok {
			c.problem = what
		}
		if c.problem != "" {
			problems = append(problems, c.field+" ("+c.problem+")")
		}
	}
	if problems == nil {
		return nil
	}
	return &ValidationError{Problems: problems}
}

// fieldCheck is what is wrong with one request field, or "".
type fieldCheck struct {
	field, problem string
}

// checks checks every field of b, in the order problems are reported.
func (b Booking) checks(lim Limits) []fieldCheck {
	return []fieldCheck{
		{"booking_id", checkBookingID(b.BookingID)},
		{"patient_email", checkEmail(string(b.PatientEmail), true)},
		{"scheduled_time", checkStart(b.ScheduledStart, lim)},
		{"timezone", checkTimezone(b.Timezone)},
		{"duration_minutes", checkDuration(b.DurationMinutes)},
		{"patient_name", checkName(string(b.PatientName))},
		{"patient_phone", checkPhone(string(b.PatientPhone))},
		{"provider_name", checkName(b.ProviderName)},
		{"provider_email", checkEmail(b.ProviderEmail, false)},
		{"provider_notes", checkLen(string(b.ProviderNotes), maxNotesLen)},
		{"trace_id", checkTraceID(b.TraceID)},
	}
}

// Problem texts used by both the decoder and the rules.
const (
	phoneProblem    = "must be in E.164 format"
	durationProblem = "must be a whole number from 15 to 120"
)

func checkBookingID(id string) string {
	switch {
	case id == "":
		return "required"
	case !isPrintable(id):
		return "must contain only printable characters"
	}
	return checkLen(id, maxIDLen)
}

func checkEmail(email string, required bool) string {
	switch {
	case validEmail(email):
		return ""
	case required:
		return "valid email required" // the original service's wording
	case email == "":
		return ""
	}
	return "must be a valid email"
}

// validEmail applies the spec's pattern ^[^\s@]+@[^\s@]+\.[^\s@]+$, reading \s as
// JavaScript does (Unicode white space and U+FEFF), plus a limit of 254 characters.
// Go's regexp reads \s as ASCII only, hence the code instead of a pattern.
func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.Contains(domain, "@") ||
		strings.ContainsFunc(s, isSpace) || utf8.RuneCountInString(s) > maxEmailLen {
		return false
	}
	// Some dot in the domain must have a character on each side.
	return len(domain) >= 3 && strings.Contains(domain[1:len(domain)-1], ".")
}

func checkStart(t time.Time, lim Limits) string {
	switch {
	case t.Location() != time.UTC:
		return "must be in UTC"
	case t.Before(lim.Now.Add(-lim.PastTolerance)):
		return "must not be in the past"
	case t.After(lim.Now.Add(lim.MaxAhead)):
		return "too far in the future"
	}
	return ""
}

func checkTimezone(name string) string {
	if name == "" {
		return ""
	}
	if _, err := loadZone(name); err != nil {
		return "must be an IANA time zone name"
	}
	return ""
}

// loadZone loads an IANA time zone. It refuses "Local", the host's zone, and "", which
// time.LoadLocation reads as UTC.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errors.New("not an IANA time zone name")
	}
	return time.LoadLocation(name)
}

func checkDuration(minutes int) string {
	if minutes < minDuration || minutes > maxDuration {
		return durationProblem
	}
	return ""
}

// checkName allows any character except control characters. unicode.IsPrint would
// also refuse the joiners (U+200C, U+200D) that some scripts need inside a name.
func checkName(name string) string {
	if strings.ContainsFunc(name, unicode.IsControl) {
		return "must not contain control characters"
	}
	return checkLen(name, maxNameLen)
}

// e164 is an international phone number: +, a country code, at most 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func checkPhone(phone string) string {
	if phone != "" && !e164.MatchString(phone) {
		return phoneProblem
	}
	return ""
}

func checkTraceID(id string) string {
	if id == "" {
		return ""
	}
	if norm, ok := NormalizeTraceID(id); !ok || norm != id {
		return "must be at most " + strconv.Itoa(maxTraceIDLen) +
			" characters, each a letter, digit, '-', '_', '.' or ':'"
	}
	return ""
}

func checkLen(s string, limit int) string {
	if utf8.RuneCountInString(s) > limit {
		return "must be at most " + strconv.Itoa(limit) + " characters"
	}
	return ""
}

// isPrintable also refuses U+FFFD, which JSON decoding puts in place of invalid UTF-8:
// two different ids must not become the same one.
func isPrintable(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) || r == utf8.RuneError
	})
}

// Fingerprint identifies what a booking asks for, apart from its time and duration
// (which callers compare on their own, as a defaulted start differs on every request)
// and its trace id. A repeated request with another fingerprint is not a repeat.
func (b Booking) Fingerprint() string {
	h := sha256.New()
	for _, f := range []string{
		b.BookingID, string(b.PatientEmail), string(b.PatientName), string(b.PatientPhone),
		b.ProviderName, b.ProviderEmail, string(b.ProviderNotes), b.Timezone,
	} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// isSpace reports whether r is white space to JavaScript or to Go: unicode.IsSpace
// plus U+FEFF, the byte order mark.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || r == '\uFEFF'
}
