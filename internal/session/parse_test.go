package session_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST cases must not depend on the host's zone files

	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/session"
)

// now is the fixed clock for every test. The DST dates below fall within a year of it.
var now = time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC)

var lim = session.Limits{Now: now}

// absent removes a field from the base request.
const absent = "\x00absent"

// request returns the JSON of a minimal valid request with set applied.
func request(t testing.TB, set map[string]any) []byte {
	t.Helper()
	fields := map[string]any{"booking_id": "BK-1", "patient_email": "john.doe@example.com"}
	for k, v := range set {
		fields[k] = v
		if v == absent {
			delete(fields, k)
		}
	}
	data, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// base is what Parse makes of the minimal request.
func base() session.Booking {
	return session.Booking{
		BookingID:       "BK-1",
		PatientEmail:    "john.doe@example.com",
		ScheduledStart:  now.Add(time.Hour),
		StartDefaulted:  true,
		DurationMinutes: 30,
	}
}

func TestParseValid(t *testing.T) {
	cases := []struct {
		name string
		set  map[string]any
		lim  session.Limits // lim when zero
		want func(b *session.Booking)
	}{
		{name: "minimal, defaults"},
		{
			name: "every field",
			set: map[string]any{
				"scheduled_time":   "2027-02-01T15:00:00-05:00",
				"timezone":         "America/New_York",
				"duration_minutes": 45,
				"patient_name":     "María José O'Brien-González",
				"patient_phone":    "+1 (555) 123-4567",
				"provider_name":    "Dr. Ada Lovelace",
				"provider_email":   "Ada@Clinic.example",
				"provider_notes":   "Follow-up.\nBring results.",
				"trace_id":         "trace-abc-123",
			},
			want: func(b *session.Booking) {
				b.ScheduledStart = time.Date(2027, 2, 1, 20, 0, 0, 0, time.UTC)
				b.Timezone = "America/New_York"
				b.DurationMinutes = 45
				b.PatientName = "María José O'Brien-González"
				b.PatientPhone = "+15551234567"
				b.ProviderName = "Dr. Ada Lovelace"
				b.ProviderEmail = "ada@clinic.example"
				b.ProviderNotes = "Follow-up.\nBring results."
				b.TraceID = "trace-abc-123"
			},
		},
		{
			name: "booking_id trimmed, 100 characters",
			set:  map[string]any{"booking_id": "\u3000" + strings.Repeat("é", 100) + "\t"},
			want: func(b *session.Booking) { b.BookingID = strings.Repeat("é", 100) },
		},
		{
			name: "email trimmed of NBSP, U+3000, U+FEFF and lower-cased",
			set:  map[string]any{"patient_email": "\u00a0\u3000John.Doe@Example.COM\ufeff "},
		},
		{
			name: "email of 254 characters",
			set:  map[string]any{"patient_email": strings.Repeat("a", 242) + "@example.com"},
			want: func(b *session.Booking) {
				b.PatientEmail = phi.Email(strings.Repeat("a", 242) + "@example.com")
			},
		},
		{
			name: "email dot right after @",
			set:  map[string]any{"patient_email": "a@.b.c"},
			want: func(b *session.Booking) { b.PatientEmail = "a@.b.c" },
		},
		{
			name: "start in Z with fraction",
			set:  map[string]any{"scheduled_time": "2027-01-20T09:30:00.250Z"},
			want: func(b *session.Booking) {
				b.ScheduledStart = time.Date(2027, 1, 20, 9, 30, 0, 250e6, time.UTC)
			},
		},
		{
			name: "start with offset ignores timezone",
			set: map[string]any{
				"scheduled_time": "2027-01-20T09:30:00+09:00", "timezone": "Europe/Paris",
			},
			want: func(b *session.Booking) {
				b.ScheduledStart = time.Date(2027, 1, 20, 0, 30, 0, 0, time.UTC)
				b.Timezone = "Europe/Paris"
			},
		},
		{
			name: "local start with timezone",
			set: map[string]any{
				"scheduled_time": "2027-07-01T09:30:15.5", "timezone": "America/New_York",
			},
			want: func(b *session.Booking) {
				b.ScheduledStart = time.Date(2027, 7, 1, 13, 30, 15, 5e8, time.UTC)
				b.Timezone = "America/New_York"
			},
		},
		{
			name: "local start without seconds",
			set:  map[string]any{"scheduled_time": "2027-07-01T09:30", "timezone": "Asia/Tokyo"},
			want: func(b *session.Booking) {
				b.ScheduledStart = time.Date(2027, 7, 1, 0, 30, 0, 0, time.UTC)
				b.Timezone = "Asia/Tokyo"
			},
		},
		{
			name: "start just inside the past tolerance",
			set:  map[string]any{"scheduled_time": "2027-01-15T11:55:00Z"},
			want: func(b *session.Booking) { b.ScheduledStart = now.Add(-5 * time.Minute) },
		},
		{
			name: "start a year ahead",
			set:  map[string]any{"scheduled_time": "2028-01-15T12:00:00Z"},
			want: func(b *session.Booking) { b.ScheduledStart = now.Add(365 * 24 * time.Hour) },
		},
		{
			name: "empty and null optional values are absent",
			set: map[string]any{
				"scheduled_time": "", "timezone": " ", "duration_minutes": nil,
				"patient_name": nil, "patient_phone": "", "provider_email": nil,
				"provider_notes": "", "trace_id": nil, "provider_name": "",
			},
		},
		{
			name: "duration as an empty string is absent",
			set:  map[string]any{"duration_minutes": " "},
		},
		{
			name: "duration as a string",
			set:  map[string]any{"duration_minutes": " 60 "},
			want: func(b *session.Booking) { b.DurationMinutes = 60 },
		},
		{
			name: "duration bounds",
			set:  map[string]any{"duration_minutes": 120},
			want: func(b *session.Booking) { b.DurationMinutes = 120 },
		},
		{
			name: "duration 15 as a string",
			set:  map[string]any{"duration_minutes": "15"},
			want: func(b *session.Booking) { b.DurationMinutes = 15 },
		},
		{
			name: "default duration from limits",
			lim:  session.Limits{Now: now, DefaultDuration: 60},
			want: func(b *session.Booking) { b.DurationMinutes = 60 },
		},
		{
			name: "phone with dots",
			set:  map[string]any{"patient_phone": "+44.20.7183.8750"},
			want: func(b *session.Booking) { b.PatientPhone = "+442071838750" },
		},
		{
			name: "names trimmed, 100 characters, joiners allowed",
			set: map[string]any{
				"patient_name":  " " + strings.Repeat("ж", 100) + " ",
				"provider_name": "\u0645\u062d\u200c\u0645\u062f", // ZWNJ inside
			},
			want: func(b *session.Booking) {
				b.PatientName = phi.Name(strings.Repeat("ж", 100))
				b.ProviderName = "\u0645\u062d\u200c\u0645\u062f"
			},
		},
		{
			name: "notes of 2000 characters",
			set:  map[string]any{"provider_notes": strings.Repeat("🩺", 2000)},
			want: func(b *session.Booking) {
				b.ProviderNotes = phi.Text(strings.Repeat("🩺", 2000))
			},
		},
		{
			name: "trace id of 128 characters",
			set:  map[string]any{"trace_id": strings.Repeat("t", 128)},
			want: func(b *session.Booking) { b.TraceID = strings.Repeat("t", 128) },
		},
		{
			name: "unknown and differently cased fields ignored",
			set:  map[string]any{"Booking_ID": 5, "appointment_id": "X", "service_type": []int{1}},
		},
		{
			name: "UTC is a timezone",
			set:  map[string]any{"timezone": "UTC"},
			want: func(b *session.Booking) { b.Timezone = "UTC" },
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := c.lim
			if l.Now.IsZero() {
				l = lim
			}
			got, err := session.Parse(request(t, c.set), l)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := base()
			if v, ok := c.set["scheduled_time"].(string); ok && v != "" {
				want.StartDefaulted = false
			}
			if c.want != nil {
				c.want(&want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse =\n%#v\nwant\n%#v", got, want)
			}
			if err := got.Validate(l); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestParseWrappedBody(t *testing.T) {
	body := `{"body": {"booking_id": "BK-1", "patient_email": "john.doe@example.com"}}`
	got, err := session.Parse([]byte(body), lim)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !reflect.DeepEqual(got, base()) {
		t.Errorf("Parse = %#v, want %#v", got, base())
	}
}

const (
	stringProblem   = "must be a string"
	durationProblem = "duration_minutes (must be a whole number from 15 to 120)"
	startProblem    = "scheduled_time (must be an RFC 3339 date-time)"
	emailProblem    = "patient_email (valid email required)"
	phoneProblem    = "patient_phone (must be in E.164 format)"
	zoneProblem     = "timezone (must be an IANA time zone name)"
	traceProblem    = "trace_id (must be at most 128 characters, each a letter, digit, " +
		"'-', '_', '.' or ':')"
)

func TestParseInvalid(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	cases := []struct {
		field string
		value any
		want  string // the only problem
	}{
		{"booking_id", absent, "booking_id (required)"},
		{"booking_id", "", "booking_id (required)"},
		{"booking_id", " \u00a0 ", "booking_id (required)"},
		{"booking_id", nil, "booking_id (required)"},
		{"booking_id", long("9", 101), "booking_id (must be at most 100 characters)"},
		{"booking_id", "BK\x07-1", "booking_id (must contain only printable characters)"},
		{"booking_id", "BK\u00a01", "booking_id (must contain only printable characters)"},

		{"patient_email", absent, emailProblem},
		{"patient_email", "john.example.com", emailProblem},
		{"patient_email", "john@example", emailProblem},
		{"patient_email", "john@example.", emailProblem},
		{"patient_email", "john@.com", emailProblem},
		{"patient_email", "@example.com", emailProblem},
		{"patient_email", "jo@hn@example.com", emailProblem},
		{"patient_email", "jo hn@example.com", emailProblem},
		{"patient_email", "jo\u00a0hn@example.com", emailProblem},
		{"patient_email", "jo\ufeffhn@example.com", emailProblem},
		{"patient_email", long("a", 243) + "@example.com", emailProblem},

		{"scheduled_time", "2027-02-01", startProblem},
		{"scheduled_time", "2027-02-01 10:00:00Z", startProblem},
		{"scheduled_time", "02/01/2027 2:00 PM", startProblem},
		{"scheduled_time", "2027-02-30T10:00:00Z", startProblem},
		{"scheduled_time", "2027-13-01T10:00:00Z", startProblem},
		{"scheduled_time", "2027-02-01T10:00:00+0500", startProblem},
		{"scheduled_time", "2027-02-01T10:00:00",
			"scheduled_time (needs a UTC offset or a timezone)"},
		{"scheduled_time", "2027-01-15T11:54:59Z", "scheduled_time (must not be in the past)"},
		{"scheduled_time", "2028-01-15T12:00:01Z", "scheduled_time (too far in the future)"},

		{"timezone", "Mars/Olympus_Mons", zoneProblem},
		{"timezone", "Local", zoneProblem},
		{"timezone", "../../etc/passwd", zoneProblem},

		{"duration_minutes", 45.5, durationProblem},
		{"duration_minutes", "45.9", durationProblem},
		{"duration_minutes", json.RawMessage("1e2"), durationProblem},
		{"duration_minutes", json.RawMessage("99999999999999999999"), durationProblem},
		{"duration_minutes", -10, durationProblem},
		{"duration_minutes", "45min", durationProblem},
		{"duration_minutes", "0x1A", durationProblem},
		{"duration_minutes", true, durationProblem},
		{"duration_minutes", []int{60}, durationProblem},
		{"duration_minutes", 14, durationProblem},
		{"duration_minutes", "121", durationProblem},

		{"patient_name", long("ж", 101), "patient_name (must be at most 100 characters)"},
		{"patient_name", "Ann\nLee", "patient_name (must not contain control characters)"},
		{"provider_name", long("x", 101), "provider_name (must be at most 100 characters)"},

		{"patient_phone", "555-123-4567", phoneProblem},
		{"patient_phone", "+0 555 123 4567", phoneProblem},
		{"patient_phone", "+1 23456", phoneProblem},
		{"patient_phone", "+1234567890123456", phoneProblem},
		{"patient_phone", "+1 555 CALL NOW", phoneProblem},
		{"patient_phone", "( )", phoneProblem},

		{"provider_email", "ada@clinic", "provider_email (must be a valid email)"},
		{"provider_notes", long("n", 2001), "provider_notes (must be at most 2000 characters)"},
		{"trace_id", long("t", 129), traceProblem},
		{"trace_id", "abc\x1b[31m", traceProblem},
		{"trace_id", "leaky.person@mail.com", traceProblem},
		{"trace_id", "Leaky Person 4155550188", traceProblem},
		{"trace_id", "trace/42", traceProblem},
		{"trace_id", "trace-é", traceProblem},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			set := map[string]any{c.field: c.value}
			problems := parseProblems(t, request(t, set))
			if len(problems) != 1 || problems[0] != c.want {
				t.Errorf("%s = %#v: problems = %q, want [%q]", c.field, c.value, problems, c.want)
			}
			assertNoEcho(t, problems, set)
		})
	}
	// A local start in a bad zone is reported once, as the zone's problem.
	set := map[string]any{"timezone": "Nowhere/City", "scheduled_time": "2027-02-01T10:00"}
	if problems := parseProblems(t, request(t, set)); !reflect.DeepEqual(problems,
		[]string{zoneProblem}) {
		t.Errorf("problems = %q, want [%q]", problems, zoneProblem)
	}
}

func TestParseDST(t *testing.T) {
	gap := "scheduled_time (does not exist in the timezone (daylight-saving gap))"
	overlap := "scheduled_time (is ambiguous in the timezone (daylight-saving overlap))"
	cases := []struct {
		zone, local string
		want        time.Time // zero when the problem is expected
		problem     string
	}{
		{"America/New_York", "2027-03-14T02:30", time.Time{}, gap},
		{"America/New_York", "2027-03-14T02:00:00", time.Time{}, gap},
		{"America/New_York", "2027-03-14T01:59:59.5", utc(2027, 3, 14, 6, 59, 59).Add(5e8), ""},
		{"America/New_York", "2027-03-14T03:00", utc(2027, 3, 14, 7, 0, 0), ""},
		{"America/New_York", "2027-11-07T01:30", time.Time{}, overlap},
		{"America/New_York", "2027-11-07T01:00", time.Time{}, overlap},
		{"America/New_York", "2027-11-07T00:59:59", utc(2027, 11, 7, 4, 59, 59), ""},
		{"America/New_York", "2027-11-07T02:00", utc(2027, 11, 7, 7, 0, 0), ""},
		{"Europe/Berlin", "2027-03-28T02:30", time.Time{}, gap},
		{"Europe/Berlin", "2027-10-31T02:30", time.Time{}, overlap},
		{"Australia/Lord_Howe", "2027-10-03T02:15", time.Time{}, gap}, // 30-minute shift
		{"Australia/Lord_Howe", "2027-04-04T01:45", time.Time{}, overlap},
		{"Australia/Lord_Howe", "2027-04-04T02:00", utc(2027, 4, 3, 15, 30, 0), ""},
		{"Asia/Tokyo", "2027-03-14T02:30", utc(2027, 3, 13, 17, 30, 0), ""},
	}
	for _, c := range cases {
		t.Run(c.zone+" "+c.local, func(t *testing.T) {
			body := request(t, map[string]any{"scheduled_time": c.local, "timezone": c.zone})
			b, err := session.Parse(body, lim)
			if c.problem != "" {
				var verr *session.ValidationError
				want := []string{c.problem}
				if !errors.As(err, &verr) || !reflect.DeepEqual(verr.Problems, want) {
					t.Errorf("err = %v, want problem %q", err, c.problem)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !b.ScheduledStart.Equal(c.want) || b.ScheduledStart.Location() != time.UTC {
				t.Errorf("start = %v, want %v", b.ScheduledStart, c.want)
			}
		})
	}
	// An explicit offset picks one side of an overlap.
	body := request(t, map[string]any{
		"scheduled_time": "2027-11-07T01:30:00-05:00", "timezone": "America/New_York",
	})
	if _, err := session.Parse(body, lim); err != nil {
		t.Errorf("offset in an overlap: %v", err)
	}
}

func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func TestParseBody(t *testing.T) {
	cases := []struct{ body, want string }{
		{"", "body (empty)"},
		{" \n\t ", "body (empty)"},
		{`{"booking_id": "BK-1",`, "body (malformed JSON at byte 22)"},
		{`{"booking_id": "secret-value"} trailing`, "body (malformed JSON at byte 32)"},
		{`[{"booking_id": "BK-1"}]`, "body (must be a JSON object)"},
		{`"john.doe@example.com"`, "body (must be a JSON object)"},
		{`null`, "body (must be a JSON object)"},
		{`42`, "body (must be a JSON object)"},
	}
	for _, c := range cases {
		problems := parseProblems(t, []byte(c.body))
		if len(problems) != 1 || problems[0] != c.want {
			t.Errorf("Parse(%q) problems = %q, want [%q]", c.body, problems, c.want)
		}
	}
}

// fieldNames lists the request fields in the order problems are reported.
var fieldNames = []string{
	"booking_id", "patient_email", "scheduled_time", "timezone", "duration_minutes",
	"patient_name", "patient_phone", "provider_name", "provider_email", "provider_notes",
	"trace_id",
}

func TestParseWrongTypes(t *testing.T) {
	for _, field := range fieldNames {
		for _, v := range []any{123, true, []string{"a"}, map[string]string{"a": "b"}} {
			problems := parseProblems(t, request(t, map[string]any{field: v}))
			want := field + " (" + stringProblem + ")"
			if field == "duration_minutes" {
				want = durationProblem // 123 is a number, but out of range
			}
			if len(problems) != 1 || problems[0] != want {
				t.Errorf("%s = %#v: problems = %q, want [%q]", field, v, problems, want)
			}
		}
	}
}

func TestParseEverythingWrong(t *testing.T) {
	set := map[string]any{
		"booking_id":       "SECRET\x00ID",
		"patient_email":    "secret.patient@nowhere",
		"scheduled_time":   "yesterday-secret",
		"timezone":         "Secret/Zone",
		"duration_minutes": "ninety-secret",
		"patient_name":     strings.Repeat("SecretName", 11),
		"patient_phone":    "+0-secret-555",
		"provider_name":    "Secret\tProvider",
		"provider_email":   "secret provider@clinic.example",
		"provider_notes":   strings.Repeat("secret ", 300),
		"trace_id":         strings.Repeat("secret", 22),
	}
	want := []string{
		"booking_id (must contain only printable characters)",
		emailProblem,
		startProblem,
		zoneProblem,
		durationProblem,
		"patient_name (must be at most 100 characters)",
		phoneProblem,
		"provider_name (must not contain control characters)",
		"provider_email (must be a valid email)",
		"provider_notes (must be at most 2000 characters)",
		traceProblem,
	}
	_, err := session.Parse(request(t, set), lim)
	var verr *session.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want a *ValidationError", err)
	}
	if !reflect.DeepEqual(verr.Problems, want) {
		t.Errorf("problems =\n%q\nwant\n%q", verr.Problems, want)
	}
	wantErr := "Missing or invalid required fields: " + strings.Join(want, ", ")
	if err.Error() != wantErr {
		t.Errorf("Error() = %q, want %q", err.Error(), wantErr)
	}
	if strings.Contains(strings.ToLower(err.Error()), "secret") {
		t.Errorf("Error() echoes input: %q", err.Error())
	}
}

func TestParseLimits(t *testing.T) {
	for _, l := range []session.Limits{
		{},
		{Now: now, DefaultDuration: 10},
		{Now: now, PastTolerance: -time.Second},
		{Now: now, MaxAhead: -time.Hour},
	} {
		_, err := session.Parse(request(t, nil), l)
		var verr *session.ValidationError
		if err == nil || errors.As(err, &verr) {
			t.Errorf("Parse with %+v: err = %v, want a limits error", l, err)
		}
	}
	custom := session.Limits{Now: now, PastTolerance: time.Hour, MaxAhead: 48 * time.Hour}
	ok := request(t, map[string]any{"scheduled_time": "2027-01-15T11:01:00Z"})
	if _, err := session.Parse(ok, custom); err != nil {
		t.Errorf("within custom tolerance: %v", err)
	}
	late := request(t, map[string]any{"scheduled_time": "2027-01-18T12:00:00Z"})
	if _, err := session.Parse(late, custom); err == nil {
		t.Error("beyond custom MaxAhead: no error")
	}
}

// parseProblems parses body and returns the problems of the *ValidationError that
// must result.
func parseProblems(t *testing.T, body []byte) []string {
	t.Helper()
	_, err := session.Parse(body, lim)
	var verr *session.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Parse(%q): err = %v, want a *ValidationError", body, err)
	}
	return verr.Problems
}

// assertNoEcho fails when a problem quotes a submitted string of four or more
// characters.
func assertNoEcho(t *testing.T, problems []string, set map[string]any) {
	t.Helper()
	for _, v := range set {
		s, ok := v.(string)
		s = strings.TrimSpace(s)
		if !ok || len([]rune(s)) < 4 || s == absent {
			continue
		}
		for _, p := range problems {
			if strings.Contains(p, s) {
				t.Errorf("problem %q echoes the input %q", p, s)
			}
		}
	}
}
