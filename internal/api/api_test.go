package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/workflows"
)

// fakeSessions answers Create with a canned result and remembers what it was given.
type fakeSessions struct {
	links workflows.Links
	err   error
	got   []workflows.SessionInput
}

func (f *fakeSessions) Create(
	_ context.Context,
	in workflows.SessionInput,
	_ time.Duration,
) (workflows.Links, error) {
	f.got = append(f.got, in)
	return f.links, f.err
}

func (f *fakeSessions) Get(_ context.Context, id string) (workflows.State, error) {
	if id == f.links.SessionID {
		return workflows.State{SessionID: id, Status: workflows.StatusScheduled}, nil
	}
	return workflows.State{}, api.ErrNotFound
}

func (f *fakeSessions) Healthy(context.Context) error { return f.err }

const testKey = "k-0123456789abcdef0123456789abcdef"

var links = workflows.Links{
	SessionID:       "SESSION-1730851234567-a3f7k2",
	MeetingURL:      "https://zoom.us/j/812?pwd=xyz",
	ProviderURL:     "https://zoom.us/s/812?zak=abc",
	ScheduledStart:  time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC),
	DurationMinutes: 60,
	Security:        video.Security{EncryptionEnabled: true, WaitingRoomEnabled: true},
	TraceID:         "SESSION-1730851234567-a3f7k2",
}

func server(t *testing.T, f *fakeSessions, keys ...string) (http.Handler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	h, err := api.New(api.Config{
		APIKeys:         keys,
		CreateWait:      time.Second,
		DefaultDuration: 30,
	}, f, slog.New(slog.NewJSONHandler(&logs, nil)))
	require.NoError(t, err)
	return h, &logs
}

func post(h http.Handler, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhook/telehealth-session",
		strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func decode(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), w.Body.String())
	return m
}

func future() string { return time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339) }

func validBody() string {
	return fmt.Sprintf(`{"booking_id":"BOOK-1","patient_email":"Sarah.J@Example.com",
		"patient_name":"Sarah Johnson","scheduled_time":%q,"duration_minutes":60,
		"provider_email":"dr.smith@clinic.example"}`, future())
}

func TestCreateReturnsTheSpecBody(t *testing.T) {
	f := &fakeSessions{links: links}
	h, logs := server(t, f)

	w := post(h, validBody(), "X-Forwarded-For", "198.51.100.7")

	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	m := decode(t, w)
	assert.Equal(t, true, m["success"])
	assert.Equal(t, "Telehealth session created successfully", m["message"])
	data := m["data"].(map[string]any)
	assert.Equal(t, links.SessionID, data["session_id"])
	assert.Equal(t, links.MeetingURL, data["meeting_url"])
	assert.Equal(t, links.ProviderURL, data["provider_url"])
	assert.Equal(t, "2030-01-02T15:00:00Z", data["scheduled_start"])
	assert.EqualValues(t, 60, data["duration_minutes"])
	assert.Equal(t, map[string]any{"encryption_enabled": true, "waiting_room_enabled": true},
		data["security"])
	meta := m["metadata"].(map[string]any)
	assert.Equal(t, "fast", meta["performance"])
	assert.Equal(t, workflows.Version, meta["workflow_version"])
	assert.Equal(t, workflows.Version, w.Header().Get("X-Workflow-Version"))
	assert.NotEmpty(t, w.Header().Get("X-Execution-Time-Ms"))
	assert.Equal(t, links.TraceID, w.Header().Get("X-Trace-Id"))

	require.Len(t, f.got, 1)
	in := f.got[0]
	assert.Equal(t, "sarah.j@example.com", string(in.Booking.PatientEmail))
	assert.Equal(t, "192.0.2.1", in.ClientIP, "X-Forwarded-For is not trusted by default")

	assert.NotContains(t, logs.String(), "sarah", "request log carries no PHI")
	assert.Contains(t, logs.String(), `"route":"/webhook/telehealth-session"`)
}

func TestTraceIDFromHeaders(t *testing.T) {
	for name, headers := range map[string][]string{
		"X-Trace-Id":  {"X-Trace-Id", "booking-trace-42"},
		"traceparent": {"Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeSessions{links: links}
			h, _ := server(t, f)
			post(h, validBody(), headers...)
			require.Len(t, f.got, 1)
			want := headers[1]
			if name == "traceparent" {
				want = "4bf92f3577b34da6a3ce929d0e0e4736"
			}
			assert.Equal(t, want, f.got[0].Booking.TraceID)
		})
	}
}

func TestValidationListsEveryProblem(t *testing.T) {
	f := &fakeSessions{links: links}
	h, _ := server(t, f)

	w := post(h, `{"booking_id":" ","patient_email":"not-an-email",
		"scheduled_time":"11/10/2025 2:00 PM","duration_minutes":500,
		"patient_phone":"555","provider_email":"x@","timezone":"Mars/Base",
		"patient_name":`+fmt.Sprintf("%q", strings.Repeat("n", 101))+`,
		"provider_notes":`+fmt.Sprintf("%q", strings.Repeat("n", 2001))+`}`)

	require.Equal(t, http.StatusBadRequest, w.Code)
	m := decode(t, w)
	assert.Equal(t, false, m["success"])
	problems := m["validation_errors"].([]any)
	assert.GreaterOrEqual(t, len(problems), 9, problems)
	for _, field := range []string{"booking_id", "patient_email", "scheduled_time",
		"duration_minutes", "patient_phone", "provider_email", "timezone",
		"patient_name", "provider_notes"} {
		assert.Contains(t, fmt.Sprint(problems), field)
	}
	assert.True(t, strings.HasPrefix(m["error"].(string),
		"Missing or invalid required fields: "), m["error"])
	assert.NotContains(t, w.Body.String(), "not-an-email", "values are not echoed")
	assert.Empty(t, f.got, "nothing is started for bad input")
}

func TestBadBodies(t *testing.T) {
	cases := map[string]struct {
		body string
		code int
	}{
		"empty":         {"", http.StatusBadRequest},
		"malformed":     {`{"booking_id": "B",`, http.StatusBadRequest},
		"not an object": {`[1,2]`, http.StatusBadRequest},
		"wrong types":   {`{"booking_id": 7, "patient_email": true}`, http.StatusBadRequest},
		"too large": {`{"booking_id":"B","patient_email":"a@b.co","provider_notes":"` +
			strings.Repeat("x", api.MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeSessions{links: links}
			h, _ := server(t, f)
			w := post(h, c.body)
			assert.Equal(t, c.code, w.Code, w.Body.String())
			m := decode(t, w)
			assert.Equal(t, false, m["success"])
			assert.NotEmpty(t, m["error"])
			assert.Empty(t, f.got)
		})
	}
}

func TestAuth(t *testing.T) {
	other := strings.Repeat("z", 40)
	cases := map[string]struct {
		keys    []string
		headers []string
		code    int
	}{
		"off":                   {nil, nil, http.StatusOK},
		"missing":               {[]string{testKey}, nil, http.StatusUnauthorized},
		"wrong":                 {[]string{testKey}, []string{"X-Api-Key", "nope"}, http.StatusUnauthorized},
		"x-api-key":             {[]string{testKey}, []string{"X-Api-Key", testKey}, http.StatusOK},
		"bearer":                {[]string{testKey}, []string{"Authorization", "Bearer " + testKey}, http.StatusOK},
		"bearer any case":       {[]string{testKey}, []string{"Authorization", "bearer " + testKey}, http.StatusOK},
		"raw authorization":     {[]string{testKey}, []string{"Authorization", testKey}, http.StatusUnauthorized},
		"second key (rotation)": {[]string{testKey, other}, []string{"X-Api-Key", other}, http.StatusOK},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h, _ := server(t, &fakeSessions{links: links}, c.keys...)
			w := post(h, validBody(), c.headers...)
			assert.Equal(t, c.code, w.Code)
			if c.code == http.StatusUnauthorized {
				m := decode(t, w)
				assert.Equal(t, "Unauthorized: Invalid or missing API key", m["error"])
				assert.NotContains(t, m, "_auth_failed")
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	cases := map[string]struct {
		err  error
		code int
		want string
	}{
		"conflict":       {api.ErrConflict, http.StatusConflict, "Rescheduling is a separate operation"},
		"meeting failed": {fmt.Errorf("%w: status 401", api.ErrMeetingFailed), http.StatusInternalServerError, "Failed to create video meeting. Please check API credentials."},
		"pending":        {&api.PendingError{SessionID: links.SessionID}, http.StatusAccepted, "/sessions/" + links.SessionID},
		"engine down":    {io.ErrUnexpectedEOF, http.StatusInternalServerError, "Internal error"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h, logs := server(t, &fakeSessions{err: c.err})
			w := post(h, validBody())
			assert.Equal(t, c.code, w.Code)
			assert.Contains(t, w.Body.String(), c.want)
			assert.NotContains(t, logs.String(), "sarah")
		})
	}
}

func TestGetSession(t *testing.T) {
	h, _ := server(t, &fakeSessions{links: links})

	for id, code := range map[string]int{links.SessionID: 200, "SESSION-1-x": 404} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/sessions/"+id, nil))
		assert.Equal(t, code, w.Code, id)
	}
}

func TestHealth(t *testing.T) {
	for err, code := range map[error]int{nil: 200, io.EOF: 503} {
		h, _ := server(t, &fakeSessions{err: err})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		assert.Equal(t, code, w.Code)
	}
}

// TestEachValidationRule sends one bad field at a time: each is a 400 that names the
// field, and nothing is started.
func TestEachValidationRule(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	gap := nextGap(ny).Format("2006-01-02T15:04:05")
	cases := map[string]struct{ field, json string }{
		"booking_id missing":     {"booking_id", `"booking_id": null`},
		"booking_id blank":       {"booking_id", `"booking_id": "   "`},
		"booking_id too long":    {"booking_id", fmt.Sprintf(`"booking_id": %q`, strings.Repeat("b", 101))},
		"booking_id unprintable": {"booking_id", `"booking_id": "B\u0007"`},
		"booking_id a number":    {"booking_id", `"booking_id": 12345`},
		"email missing":          {"patient_email", `"patient_email": ""`},
		"email without dot":      {"patient_email", `"patient_email": "a@b"`},
		"email with inner space": {"patient_email", `"patient_email": "a b@c.de"`},
		"email with nbsp inside": {"patient_email", `"patient_email": "a\u00a0b@c.de"`},
		"time without offset":    {"scheduled_time", `"scheduled_time": "2030-01-01T10:00:00"`},
		"time not ISO":           {"scheduled_time", `"scheduled_time": "11/10/2030 2:00 PM"`},
		"time in the past":       {"scheduled_time", `"scheduled_time": "2020-01-01T10:00:00Z"`},
		"time over a year ahead": {"scheduled_time", `"scheduled_time": "2099-01-01T10:00:00Z"`},
		"time in a DST gap":      {"scheduled_time", fmt.Sprintf(`"scheduled_time": %q, "timezone": "America/New_York"`, gap)},
		"unknown timezone":       {"timezone", `"timezone": "Mars/Olympus"`},
		"duration too short":     {"duration_minutes", `"duration_minutes": 10`},
		"duration too long":      {"duration_minutes", `"duration_minutes": 121`},
		"duration a fraction":    {"duration_minutes", `"duration_minutes": 45.5`},
		"duration negative":      {"duration_minutes", `"duration_minutes": -30`},
		"duration text":          {"duration_minutes", `"duration_minutes": "forty"`},
		"patient name too long":  {"patient_name", fmt.Sprintf(`"patient_name": %q`, strings.Repeat("n", 101))},
		"provider name too long": {"provider_name", fmt.Sprintf(`"provider_name": %q`, strings.Repeat("n", 101))},
		"phone not E.164":        {"patient_phone", `"patient_phone": "555-1234"`},
		"provider email invalid": {"provider_email", `"provider_email": "dr@clinic"`},
		"notes too long":         {"provider_notes", fmt.Sprintf(`"provider_notes": %q`, strings.Repeat("n", 2001))},
		"phone an object":        {"patient_phone", `"patient_phone": {"n": 1}`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeSessions{links: links}
			h, _ := server(t, f)
			body := "{" + c.json
			if !strings.Contains(c.json, `"booking_id"`) {
				body += `, "booking_id": "BOOK-1"`
			}
			if !strings.Contains(c.json, `"patient_email"`) {
				body += `, "patient_email": "p@example.com"`
			}
			body += "}"
			w := post(h, body)
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			problems := fmt.Sprint(decode(t, w)["validation_errors"])
			assert.Contains(t, problems, c.field)
			assert.Empty(t, f.got)
		})
	}
}

// nextGap returns a wall-clock time that does not exist in loc: inside the next
// spring-forward gap within a year.
func nextGap(loc *time.Location) time.Time {
	t := time.Now().In(loc).Truncate(time.Hour)
	for i := 0; i < 24*366; i++ {
		t = t.Add(time.Hour)
		_, off1 := t.Zone()
		_, off2 := t.Add(time.Hour).Zone()
		if off2 > off1 {
			// The hour after t's wall clock is skipped.
			w := t.Add(time.Hour)
			return time.Date(w.Year(), w.Month(), w.Day(), w.Hour()-1, 30, 0, 0, time.UTC)
		}
	}
	panic("no DST gap within a year")
}
