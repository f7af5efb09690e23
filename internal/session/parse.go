package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/telehealth/sessions/internal/phi"
)

// Parse decodes and validates a booking request body (JSON, snake_case field names) and
// returns the normalised Booking. When the request is bad the error is a
// *ValidationError that lists every problem, and any other error means lim is unusable.
//
// Strings are trimmed of Unicode white space, and "" counts as absent. Emails are
// lower-cased, and separators are removed from the phone number. The start is stored
// in UTC: absent, it is lim.Now plus one hour. It may be an RFC 3339 time with an
// offset, or a local time (2006-01-02T15:04, optional seconds and fraction) when
// timezone names the zone. Unknown fields are ignored. A body wrapped as
// {"body": {...}}, as some webhook relays send it, is unwrapped once.
func Parse(body []byte, lim Limits) (Booking, error) {
	lim, err := lim.withDefaults()
	if err != nil {
		return Booking{}, err
	}
	fields, problem := decodeObject(body)
	if problem != "" {
		return Booking{}, &ValidationError{Problems: []string{"body (" + problem + ")"}}
	}
	d := decoder{fields: fields, known: map[string]string{}}
	b := Booking{
		BookingID:     d.str("booking_id"),
		PatientEmail:  phi.Email(strings.ToLower(d.str("patient_email"))),
		PatientName:   phi.Name(d.str("patient_name")),
		PatientPhone:  phi.Phone(d.phone("patient_phone")),
		ProviderName:  d.str("provider_name"),
		ProviderEmail: strings.ToLower(d.str("provider_email")),
		ProviderNotes: phi.Text(d.str("provider_notes")),
		Timezone:      d.str("timezone"),
		TraceID:       d.str("trace_id"),
	}
	b.ScheduledStart = d.start(lim, b.Timezone)
	b.StartDefaulted = d.str("scheduled_time") == ""
	b.DurationMinutes = d.duration(lim.DefaultDuration)
	if err := b.check(lim, d.known); err != nil {
		return Booking{}, err
	}
	return b, nil
}

// decodeObject splits a body into its top-level fields, or says why it cannot.
func decodeObject(body []byte) (map[string]json.RawMessage, string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, "empty"
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, "malformed JSON at byte " + strconv.FormatInt(syntax.Offset, 10)
		}
		return nil, "must be a JSON object"
	}
	if fields == nil { // the body was null
		return nil, "must be a JSON object"
	}
	_, hasID := fields["booking_id"]
	_, hasEmail := fields["patient_email"]
	if inner, ok := fields["body"]; ok && !hasID && !hasEmail {
		var unwrapped map[string]json.RawMessage
		if json.Unmarshal(inner, &unwrapped) == nil && unwrapped != nil {
			return unwrapped, ""
		}
	}
	return fields, ""
}

// decoder reads fields one by one, so that a bad one is a problem to list rather than
// the end of decoding. known collects each field's problem for Booking.check.
type decoder struct {
	fields map[string]json.RawMessage
	known  map[string]string
}

// str returns a string field, trimmed; "" when it is absent or null.
func (d *decoder) str(field string) string {
	raw, ok := d.fields[field]
	if !ok || string(raw) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.known[field] = "must be a string"
		return ""
	}
	return strings.TrimFunc(s, isSpace)
}

// phone returns a phone number without spaces, dashes, dots and parentheses.
func (d *decoder) phone(field string) string {
	s := d.str(field)
	digits := strings.Map(func(r rune) rune {
		if isSpace(r) || strings.ContainsRune("-.()", r) {
			return -1
		}
		return r
	}, s)
	if s != "" && digits == "" {
		d.known[field] = phoneProblem
	}
	return digits
}

// start returns the scheduled start in UTC.
func (d *decoder) start(lim Limits, zone string) time.Time {
	const field = "scheduled_time"
	s := d.str(field)
	if s == "" {
		return lim.Now.Add(time.Hour).UTC()
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC()
	}
	wall, ok := parseWallClock(s)
	if !ok {
		d.known[field] = "must be an RFC 3339 date-time"
		return time.Time{}
	}
	loc, err := loadZone(zone)
	if err != nil {
		d.known[field] = "needs a UTC offset or a timezone"
		if _, bad := d.known["timezone"]; bad || zone != "" {
			d.known[field] = "" // the timezone problem covers it
		}
		return time.Time{}
	}
	t, problem := inZone(wall, loc)
	if problem != "" {
		d.known[field] = problem
	}
	return t.UTC()
}

// parseWallClock parses a local time without an offset. The result holds the wall
// clock reading in UTC.
func parseWallClock(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil { // a fraction is accepted too
			return t, true
		}
	}
	return time.Time{}, false
}

// inZone returns the instant at which the clocks in loc read wall. It fails when they
// never read it (skipped by a daylight-saving gap) or read it twice (in an overlap).
func inZone(wall time.Time, loc *time.Location) (time.Time, string) {
	t := time.Date(wall.Year(), wall.Month(), wall.Day(),
		wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc)
	if !wallClock(t).Equal(wall) {
		return time.Time{}, "does not exist in the timezone (daylight-saving gap)"
	}
	// In an overlap, the offset in force a few hours before or after t maps wall to a
	// second instant. No zone shifts by more than 3 hours or twice within 3 hours.
	for _, d := range []time.Duration{-3 * time.Hour, 3 * time.Hour} {
		_, offset := t.Add(d).Zone()
		other := wall.Add(-time.Duration(offset) * time.Second)
		if !other.Equal(t) && wallClock(other.In(loc)).Equal(wall) {
			return time.Time{}, "is ambiguous in the timezone (daylight-saving overlap)"
		}
	}
	return t, ""
}

// wallClock returns t's clock reading in its own zone as the same reading in UTC.
func wallClock(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// duration returns duration_minutes: a JSON integer or a string that holds one.
func (d *decoder) duration(def int) int {
	const field = "duration_minutes"
	raw, ok := d.fields[field]
	if !ok || string(raw) == "null" {
		return def
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw) // a number, or another JSON type that Atoi refuses
	}
	s = strings.TrimFunc(s, isSpace)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		d.known[field] = durationProblem
	}
	return n
}
