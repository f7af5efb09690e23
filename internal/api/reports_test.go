package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/analytics"
	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/audit"
	"github.com/telehealth/sessions/workflows"
)

// ReportSessions makes fakeVisits serve the export and analytics routes, with none.
func (f *fakeVisits) ReportSessions(context.Context, analytics.Range, int) (
	[]analytics.Session, error) {
	return nil, nil
}

func (f *fakeVisits) PatientContacts(context.Context, []analytics.Session) (
	[]analytics.Contact, error) {
	return nil, nil
}

// reportSessions serves sessions and their patients' contacts.
type reportSessions struct {
	fakeSessions
	states   []workflows.State
	contacts map[string]analytics.Contact // by session id
	asked    []analytics.Range
	tooMany  bool
	read     int // contacts read
}

func (f *reportSessions) ReportSessions(_ context.Context, r analytics.Range, limit int) (
	[]analytics.Session, error) {
	f.asked = append(f.asked, r)
	if f.tooMany {
		return nil, &analytics.TooManyError{Limit: limit}
	}
	var out []analytics.Session
	for _, s := range f.states {
		out = append(out, analytics.FromState(s))
	}
	return out, nil
}

func (f *reportSessions) PatientContacts(_ context.Context, s []analytics.Session) (
	[]analytics.Contact, error) {
	var out []analytics.Contact
	for _, sess := range s {
		f.read++
		out = append(out, f.contacts[sess.SessionID])
	}
	return out, nil
}

const (
	phiKey      = "phi-0123456789abcdef0123456789abcdef"
	patientName = "Sarah Johnson"
	patientMail = "sarah.johnson@example.com"
)

func reportServer(t *testing.T, f *reportSessions) (http.Handler, *audit.Log,
	*bytes.Buffer) {
	t.Helper()
	l, err := audit.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	var logs bytes.Buffer
	h, err := api.New(api.Config{
		APIKeys: []string{testKey, phiKey}, PHIKeys: []string{phiKey},
		CreateWait: time.Second, DefaultDuration: 30, Guard: api.Guard{Audit: l},
	}, f, slog.New(slog.NewJSONHandler(&logs, nil)))
	require.NoError(t, err)
	return h, l, &logs
}

func exported() *reportSessions {
	s := finished()
	injected := finished()
	injected.SessionID = "SESSION-1730851234567-zzzzzz"
	injected.PatientMasked = "=*** H***"
	return &reportSessions{
		states: []workflows.State{s, injected},
		contacts: map[string]analytics.Contact{
			s.SessionID: {Name: patientName, Email: patientMail},
			injected.SessionID: {Name: `=HYPERLINK("http://evil.example","x")`,
				Email: "+1@example.com"},
		},
	}
}

func rows(t *testing.T, body string) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, col := range recs[0] {
			m[col] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func auditEntries(t *testing.T, l *audit.Log) []audit.Entry {
	t.Helper()
	var got []audit.Entry
	require.NoError(t, l.Each(t.Context(), func(e audit.Entry) error {
		got = append(got, e)
		return nil
	}))
	return got
}

func TestAttendanceCSVIsMaskedWithoutThePHIPermission(t *testing.T) {
	f := exported()
	h, l, logs := reportServer(t, f)

	w := get(h, "/attendance.csv?from=2030-01-01&to=2030-01-08")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "text/csv; charset=utf-8", w.Header().Get("Content-Type"))
	assert.Equal(t, "false", w.Header().Get("X-PHI-Included"))
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	assert.Contains(t, w.Header().Get("Content-Disposition"),
		"attendance-20300101T000000Z-20300108T000000Z.csv")
	body := w.Body.String()
	assert.NotContains(t, body, "Sarah")
	assert.NotContains(t, body, "Johnson")
	assert.NotContains(t, body, "example.com")
	assert.Zero(t, f.read, "a masked export reads no PHI at all")
	require.Len(t, f.asked, 1)
	assert.Equal(t, time.Date(2030, 1, 8, 0, 0, 0, 0, time.UTC), f.asked[0].To)

	got := rows(t, body)
	require.Len(t, got, 2)
	r := got[0]
	assert.Equal(t, links.SessionID, r["session_id"])
	assert.Equal(t, "COMPLETED", r["status"])
	assert.Equal(t, "prov-0123", r["provider_id"])
	assert.Equal(t, "S*** J***", r["patient"])
	assert.Empty(t, r["patient_email"])
	assert.Equal(t, "2030-01-02T15:00:00Z", r["scheduled_start"])
	assert.Equal(t, "2030-01-02T14:58:00Z", r["actual_start"])
	assert.Equal(t, "32", r["actual_minutes"])
	assert.Equal(t, "180", r["wait_seconds"])
	assert.Equal(t, "25", r["billable_minutes"])
	assert.Equal(t, "false", r["no_show"])
	assert.Equal(t, "1", r["patient_intervals"])
	assert.Equal(t, "1500", r["patient_seconds"])
	assert.Equal(t, "1920", r["provider_seconds"])
	assert.Equal(t, "'=*** H***", got[1]["patient"],
		"a masked name that starts like a formula is defused too")

	entries := auditEntries(t, l)
	require.Len(t, entries, 1)
	assert.Equal(t, audit.ActionExport, entries[0].Action)
	assert.Equal(t, "200", entries[0].Outcome)
	assert.Regexp(t, `^key-[0-9a-f]{16}$`, entries[0].Actor)
	assert.Equal(t, "from=2030-01-01T00:00:00Z to=2030-01-08T00:00:00Z rows=2",
		entries[0].Detail, "the range and the rows, nothing of them")
	assert.NotContains(t, logs.String(), "S*** J***")
}

func TestAttendanceCSVCarriesPHIForAPHIKey(t *testing.T) {
	f := exported()
	h, l, logs := reportServer(t, f)

	w := get(h, "/attendance.csv?from=2030-01-01T00:00:00Z&to=2030-01-08T00:00:00Z",
		"x-api-key", phiKey)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "true", w.Header().Get("X-PHI-Included"))
	got := rows(t, w.Body.String())
	require.Len(t, got, 2)
	assert.Equal(t, patientName, got[0]["patient"])
	assert.Equal(t, patientMail, got[0]["patient_email"])
	assert.Equal(t, `'=HYPERLINK("http://evil.example","x")`, got[1]["patient"],
		"formula injection is defused")
	assert.Equal(t, "'+1@example.com", got[1]["patient_email"])
	assert.Equal(t, 2, f.read)

	entries := auditEntries(t, l)
	require.Len(t, entries, 1)
	assert.Equal(t, audit.ActionExportPHI, entries[0].Action)
	assert.Regexp(t, `^key-[0-9a-f]{16}$`, entries[0].Actor)
	assert.Equal(t, "from=2030-01-01T00:00:00Z to=2030-01-08T00:00:00Z rows=2",
		entries[0].Detail)
	record, err := json.Marshal(entries[0])
	require.NoError(t, err)
	for _, s := range []string{"Sarah", "Johnson", "example.com", "HYPERLINK"} {
		assert.NotContains(t, string(record), s, "no PHI in the audit record")
		assert.NotContains(t, logs.String(), s, "no PHI in the logs")
	}
}

func TestReportRangesListEveryProblem(t *testing.T) {
	f := exported()
	h, l, _ := reportServer(t, f)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/attendance.csv", []string{"from is required", "to is required"}},
		{"/attendance.csv?from=yesterday&to=2030-02-30",
			[]string{"from must be an RFC 3339", "to must be an RFC 3339"}},
		{"/attendance.csv?from=2030-01-08&to=2030-01-01", []string{"to must be after from"}},
		{"/attendance.csv?from=2030-01-01&to=2030-06-01",
			[]string{"the range must be at most 92 days long"}},
		{"/analytics?from=2030-01-08&bucket=year",
			[]string{"to is required", "bucket must be day, week or month"}},
		{"/analytics?from=2030-01-01&to=2031-06-01",
			[]string{"the range must be at most 366 days long"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := get(h, tc.path, "x-api-key", phiKey)
			require.Equal(t, http.StatusBadRequest, w.Code)
			var body struct {
				Problems []string `json:"validation_errors"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
			require.Len(t, body.Problems, len(tc.want))
			for i, want := range tc.want {
				assert.Contains(t, body.Problems[i], want)
			}
		})
	}
	assert.Empty(t, f.asked, "nothing is listed for a bad range")
	assert.Zero(t, f.read)
	entries := auditEntries(t, l)
	require.NotEmpty(t, entries)
	assert.Equal(t, audit.ActionExportPHI, entries[0].Action,
		"a refused PHI export is audited as one")
	assert.Equal(t, "400", entries[0].Outcome)
	assert.Empty(t, entries[0].Detail, "no range was read: none is recorded")

	f.tooMany = true
	for _, path := range []string{"/attendance.csv?from=2030-01-01&to=2030-01-08",
		"/analytics?from=2030-01-01&to=2030-01-08"} {
		w := get(h, path)
		require.Equal(t, http.StatusBadRequest, w.Code, path)
		assert.Contains(t, w.Body.String(), "the range holds more than")
	}
	entries = auditEntries(t, l)
	last := entries[len(entries)-1]
	assert.Equal(t, "400", last.Outcome)
	assert.Equal(t, "from=2030-01-01T00:00:00Z to=2030-01-08T00:00:00Z", last.Detail)
}

func TestAnalyticsRoute(t *testing.T) {
	f := exported()
	noShow := finished()
	noShow.SessionID, noShow.Status, noShow.NoShow = "SESSION-1730851234567-noshow",
		workflows.StatusNoShow, true
	noShow.Attendance = workflows.Attendance{}
	f.states = append(f.states, noShow)
	h, l, logs := reportServer(t, f)

	w := get(h, "/analytics?from=2030-01-01&to=2030-02-01&bucket=week")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var body struct {
		Data analytics.Report `json:"data"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	rep := body.Data
	assert.Equal(t, analytics.Week, rep.Bucket)
	assert.Equal(t, 3, rep.Sessions)
	assert.Equal(t, map[string]int{"COMPLETED": 2, "NO_SHOW": 1}, rep.ByStatus)
	assert.Equal(t, "2029-12-31", rep.Buckets[0].Start, "weeks start on Monday")
	assert.Equal(t, 3, rep.Buckets[0].Sessions)
	require.NotNil(t, rep.NoShow.Rate)
	assert.InDelta(t, 0.3333, *rep.NoShow.Rate, 1e-9)
	require.Len(t, rep.Providers, 1)
	assert.Equal(t, 90, rep.Providers[0].BookedMinutes)
	assert.InDelta(t, 50, rep.Providers[0].AttendedMinutes, 1e-9)
	assert.NotContains(t, w.Body.String(), "S*** J***", "no patient in analytics")
	assert.Zero(t, f.read, "analytics read no PHI")
	assert.NotContains(t, logs.String(), "prov-0123")
	entries := auditEntries(t, l)
	require.Len(t, entries, 1)
	assert.Equal(t, audit.ActionView, entries[0].Action)
	assert.Equal(t, "from=2030-01-01T00:00:00Z to=2030-02-01T00:00:00Z", entries[0].Detail)
}
