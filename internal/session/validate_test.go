package session_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/session"
)

func TestValidate(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(b *session.Booking)
		want   []string // nil when valid
	}{
		{"valid", func(*session.Booking) {}, nil},
		{"zero", func(b *session.Booking) { *b = session.Booking{} }, []string{
			"booking_id (required)",
			"patient_email (valid email required)",
			"scheduled_time (must not be in the past)",
			"duration_minutes (must be a whole number from 15 to 120)",
		}},
		{"start not in UTC", func(b *session.Booking) {
			b.ScheduledStart = b.ScheduledStart.In(newYork)
		}, []string{"scheduled_time (must be in UTC)"}},
		{"phone not normalised", func(b *session.Booking) { b.PatientPhone = "+1 555 123 4567" },
			[]string{"patient_phone (must be in E.164 format)"}},
		{"trace id not trimmed", func(b *session.Booking) { b.TraceID = " t1 " },
			[]string{"trace_id (must be at most 128 characters, each a letter, digit, " +
				"'-', '_', '.' or ':')"}},
		{"trace id with an email", func(b *session.Booking) {
			b.TraceID = "leaky.person@mail.com"
		}, []string{"trace_id (must be at most 128 characters, each a letter, digit, " +
			"'-', '_', '.' or ':')"}},
		{"timezone Local", func(b *session.Booking) { b.Timezone = "Local" },
			[]string{"timezone (must be an IANA time zone name)"}},
		{"provider email", func(b *session.Booking) { b.ProviderEmail = "x@y" },
			[]string{"provider_email (must be a valid email)"}},
		{"notes too long", func(b *session.Booking) {
			b.ProviderNotes = phi.Text(strings.Repeat("n", 2001))
		}, []string{"provider_notes (must be at most 2000 characters)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := base()
			c.change(&b)
			err := b.Validate(lim)
			if c.want == nil {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			var verr *session.ValidationError
			if !errors.As(err, &verr) || !reflect.DeepEqual(verr.Problems, c.want) {
				t.Errorf("Validate = %v, want problems %q", err, c.want)
			}
		})
	}
	if err := base().Validate(session.Limits{}); err == nil {
		t.Error("Validate without Now: no error")
	}
}

// TestBookingPayload checks that a Booking survives the JSON round trip that a Temporal
// payload makes, with lowerCamel keys and raw PHI.
func TestBookingPayload(t *testing.T) {
	body := request(t, map[string]any{
		"patient_name": "John Doe", "patient_phone": "+15551234567",
		"provider_notes": "notes", "timezone": "Europe/Paris", "trace_id": "t-1",
	})
	b, err := session.Parse(body, lim)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"bookingId":"BK-1","patientEmail":"john.doe@example.com",` +
		`"patientName":"John Doe","patientPhone":"+15551234567",` +
		`"providerNotes":"notes","scheduledStart":"2027-01-15T13:00:00Z",` +
		`"timezone":"Europe/Paris","durationMinutes":30,"traceId":"t-1"}`
	if string(data) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", data, want)
	}
	var back session.Booking
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	b.StartDefaulted = false // the API's concern; it does not travel
	if !reflect.DeepEqual(back, b) {
		t.Errorf("round trip = %#v, want %#v", back, b)
	}
	if err := back.Validate(lim); err != nil {
		t.Errorf("Validate after round trip: %v", err)
	}
}

func TestNormalizeTraceID(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"abc-123", "abc-123", true},
		{"  4bf92f35 \t", "4bf92f35", true},
		{strings.Repeat("x", 128), strings.Repeat("x", 128), true},
		{"SESSION-1730851234567-a3f7k2", "SESSION-1730851234567-a3f7k2", true},
		{"svc_a:req.42", "svc_a:req.42", true},
		{"4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736", true},
		{strings.Repeat("x", 129), "", false},
		// An email, a name, a phone number written as text: never a trace id.
		{"leaky.person@mail.com", "", false},
		{"Leaky Person 4155550188", "", false},
		{"+1 415 555 0188", "", false},
		{"Müller", "", false},
		{strings.Repeat("é", 64), "", false},
		{"a/b", "", false},
		{"a%40b", "", false},
		{"<script>", "", false},
		{"", "", false},
		{"   ", "", false},
		{"a\nb", "", false},
		{"a\u200bb", "", false},
	}
	for _, c := range cases {
		got, ok := session.NormalizeTraceID(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("NormalizeTraceID(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestTraceIDFromTraceparent(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	cases := []struct {
		in   string
		want string // "" when the header must be refused
	}{
		{"00-" + id + "-00f067aa0ba902b7-01", id},
		{" 00-" + id + "-00f067aa0ba902b7-00 ", id},
		{"01-" + id + "-00f067aa0ba902b7-01-future", id},
		{"00-" + id + "-00f067aa0ba902b7-01-extra", ""},
		{"ff-" + id + "-00f067aa0ba902b7-01", ""},
		{"00-" + strings.ToUpper(id) + "-00f067aa0ba902b7-01", ""},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"00-" + id + "-0000000000000000-01", ""},
		{"00-" + id[1:] + "-00f067aa0ba902b7-01", ""},
		{"00-" + id + "-00f067aa0ba902b7", ""},
		{"0-" + id + "-00f067aa0ba902b7-01", ""},
		{"00-" + id + "-00f067aa0ba902b7-1", ""},
		{"", ""},
	}
	for _, c := range cases {
		got, ok := session.TraceIDFromTraceparent(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("TraceIDFromTraceparent(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

func TestInvalidUTF8IDIsRejected(t *testing.T) {
	_, err := session.Parse([]byte("{\"booking_id\": \"B\xff1\", \"patient_email\": \"a@b.co\"}"), lim)
	var verr *session.ValidationError
	if !errors.As(err, &verr) || !strings.Contains(verr.Error(), "booking_id") {
		t.Fatalf("Parse = %v, want a booking_id problem", err)
	}
}

func TestFingerprint(t *testing.T) {
	a := session.Booking{BookingID: "B", PatientEmail: "a@b.co", DurationMinutes: 30}
	b := a
	b.TraceID, b.DurationMinutes = "other-trace", 45
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("trace id and duration changed the fingerprint")
	}
	b.PatientEmail = "c@b.co"
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("another patient has the same fingerprint")
	}
	// Fields are separated: moving text between them changes the fingerprint.
	c, d := a, a
	c.ProviderName, d.ProviderEmail = "x", "x"
	if c.Fingerprint() == d.Fingerprint() {
		t.Error("fields run together")
	}
}
