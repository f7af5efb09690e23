package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/telehealth/sessions/internal/analytics"
	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/app"
	"github.com/telehealth/sessions/internal/audit"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/metrics"
	"github.com/telehealth/sessions/internal/video/sandbox"
)

const (
	plainAPIKey = "plain-0123456789abcdef0123456789abcdef"
	phiAPIKey   = "phi-00123456789abcdef0123456789abcdef"
)

// reportStack is the visit stack with API keys (one of them allowed to see PHI), the
// audit log, the metrics with the analytics gauges, and the codec's converter for the
// PHI export.
type reportStack struct {
	api     *httptest.Server
	sandbox *sandbox.Server
	audit   *audit.Log
}

func startReportStack(t testing.TB, logger *slog.Logger) *reportStack {
	t.Helper()
	apiSrv := httptest.NewUnstartedServer(nil)
	sb, err := sandbox.New(sandbox.Options{
		AccountID: "acct", ClientID: "client", ClientSecret: "secret",
		WebhookURL:    "http://" + apiSrv.Listener.Addr().String() + "/webhooks/zoom",
		WebhookSecret: hookSecret,
	})
	require.NoError(t, err)
	platform := httptest.NewServer(sb)
	t.Cleanup(platform.Close)

	cfg, err := config.FromMap(map[string]string{
		"DATA_DIR":                  t.TempDir(),
		"TASK_QUEUE":                uniqueID("queue"),
		"VIDEO_PLATFORM":            "zoom",
		"VIDEO_PLATFORM_API_URL":    platform.URL + "/v2",
		"ZOOM_OAUTH_URL":            platform.URL + "/oauth/token",
		"ZOOM_ACCOUNT_ID":           "acct",
		"ZOOM_CLIENT_ID":            "client",
		"ZOOM_CLIENT_SECRET":        "secret",
		"ZOOM_USER_ID":              "dr@clinic.example",
		"VIDEO_PLATFORM_TIMEOUT":    "2s",
		"FOLLOW_UP_DELAY":           "1s",
		"ZOOM_WEBHOOK_SECRET_TOKEN": hookSecret,
		"API_KEY_ENABLED":           "true",
		"API_KEY":                   plainAPIKey + "," + phiAPIKey,
		"API_KEYS_PHI":              phiAPIKey,
		"PAYLOAD_KEYS":              testKeys,
		"RATE_LIMIT_PER_SECOND":     "0",
	})
	require.NoError(t, err)

	acts, stop, err := app.NewActivities(t.Context(), cfg, logger)
	require.NoError(t, err)
	t.Cleanup(stop)
	w := app.NewWorker(temporalClient, cfg.TaskQueue, acts)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	apiCfg := app.APIConfig(cfg)
	apiCfg.Policy.Visit.RejoinGrace = 2 * time.Second
	guard, release, err := app.Guard(t.Context(), cfg, logger, testCodec)
	require.NoError(t, err)
	t.Cleanup(release)
	apiCfg.Guard = guard
	m, err := metrics.New()
	require.NoError(t, err)
	apiCfg.Metrics = m
	sessions := api.NewReporting(
		&api.Temporal{Client: temporalClient, TaskQueue: cfg.TaskQueue},
		testCodec.DataConverter())
	require.NoError(t, m.Register(metrics.NewAnalytics(sessions.Analytics,
		metrics.DefaultAnalyticsWindow, metrics.DefaultAnalyticsTTL)))
	h, err := api.New(apiCfg, sessions, logger)
	require.NoError(t, err)
	apiSrv.Config.Handler = h
	apiSrv.Start()
	t.Cleanup(apiSrv.Close)
	return &reportStack{api: apiSrv, sandbox: sb, audit: guard.Audit}
}

// call sends a request with an API key and returns the status and the body.
func (s *reportStack) call(t testing.TB, method, path, key, body string) (int, string,
	http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, s.api.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

func (s *reportStack) data(t *testing.T, method, path, body string) map[string]any {
	t.Helper()
	code, out, _ := s.call(t, method, path, plainAPIKey, body)
	require.Equal(t, http.StatusOK, code, out)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	return m["data"].(map[string]any)
}

// reportPHI is every piece of the patient's PHI the bookings carry, in the forms a
// leak could take; none may reach a non-PHI key, the logs or the audit.
var reportPHI = []string{"Sarah", "Johnson", "sarah.johnson", "example.com",
	"555 123 4567", "5551234567", "+1 555"}

// TestAttendanceExportAndAnalytics books four sessions in an hour of their own far
// ahead (other tests' sessions stay out of its range), plays one visit through the
// sandbox's signed webhooks, abandons another in the waiting room, cancels the third,
// leaves the fourth scheduled, and reads them back through the CSV export (masked,
// then with PHI), the analytics and the metrics, on the dev server.
func TestAttendanceExportAndAnalytics(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(io.MultiWriter(&logs, testWriter{t}), nil))
	s := startReportStack(t, logger)
	ctx := context.Background()

	base := time.Now().UTC().Add(250 * 24 * time.Hour).Truncate(time.Hour).
		Add(time.Duration(time.Now().UnixNano()%50) * time.Minute)
	book := func(i int, provider string) (sessionID, meetingID string) {
		code, out, _ := s.call(t, http.MethodPost, "/webhook/telehealth-session",
			plainAPIKey, fmt.Sprintf(`{"booking_id":%q,
			"patient_email":"sarah.johnson@example.com","patient_name":"Sarah Johnson",
			"patient_phone":"+1 555 123 4567","provider_email":%q,"scheduled_time":%q,"duration_minutes":30}`,
				uniqueID("report"), provider,
				base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339)))
		require.Equal(t, http.StatusOK, code, out)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &m))
		sessionID = m["data"].(map[string]any)["session_id"].(string)
		var state map[string]any
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			code, out, _ := s.call(t, http.MethodGet, "/sessions/"+sessionID, plainAPIKey, "")
			require.Equal(c, http.StatusOK, code, out)
			require.NoError(c, json.Unmarshal([]byte(out), &m))
			state = m["data"].(map[string]any)
		}, 10*time.Second, 100*time.Millisecond)
		return sessionID, state["meeting_id"].(string)
	}
	visited, visitMeeting := book(0, "dr.smith@clinic.example")
	abandoned, abandonMeeting := book(1, "dr.smith@clinic.example")
	cancelled, _ := book(2, "dr.jones@clinic.example")
	scheduled, _ := book(3, "dr.jones@clinic.example") // open: read by its query

	provider := &sandbox.Person{UserName: "Dr Smith", Email: "dr.smith@clinic.example"}
	patient := &sandbox.Person{UserName: "Sarah Johnson", Email: "sarah.johnson@example.com"}
	require.NoError(t, s.sandbox.Start(ctx, visitMeeting, provider))
	require.NoError(t, s.sandbox.Wait(ctx, visitMeeting, patient))
	require.NoError(t, s.sandbox.Admit(ctx, visitMeeting, patient))
	time.Sleep(1100 * time.Millisecond)
	require.NoError(t, s.sandbox.Leave(ctx, visitMeeting, patient))
	require.NoError(t, s.sandbox.End(ctx, visitMeeting))

	// The patient waits; the meeting ends before they are admitted.
	provider2 := &sandbox.Person{UserName: "Dr Smith", Email: "dr.smith@clinic.example"}
	patient2 := &sandbox.Person{UserName: "Sarah Johnson", Email: "sarah.johnson@example.com"}
	require.NoError(t, s.sandbox.Start(ctx, abandonMeeting, provider2))
	require.NoError(t, s.sandbox.Wait(ctx, abandonMeeting, patient2))
	time.Sleep(1100 * time.Millisecond)
	require.NoError(t, s.sandbox.End(ctx, abandonMeeting))

	s.data(t, http.MethodPost, "/sessions/"+cancelled+"/cancel", `{"reason":"patient"}`)

	for _, id := range []string{visited, abandoned} {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			code, out, _ := s.call(t, http.MethodGet, "/sessions/"+id, plainAPIKey, "")
			require.Equal(c, http.StatusOK, code)
			assert.Contains(c, out, `"status":"COMPLETED"`)
		}, 30*time.Second, 250*time.Millisecond)
	}

	rangeQuery := "from=" + base.Format(time.RFC3339) + "&to=" +
		base.Add(time.Hour).Format(time.RFC3339)

	// Masked: no name, no email; the audit says so.
	var masked []map[string]string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, out, h := s.call(t, http.MethodGet, "/attendance.csv?"+rangeQuery,
			plainAPIKey, "")
		require.Equal(c, http.StatusOK, code, out)
		assert.Equal(c, "false", h.Get("X-PHI-Included"))
		for _, phi := range reportPHI {
			assert.NotContains(c, out, phi, "the masked export")
		}
		masked = csvRows(c, out)
		if assert.Len(c, masked, 4) {
			t.Logf("masked csv:\n%s", out)
		}
	}, 10*time.Second, 250*time.Millisecond)
	byID := map[string]map[string]string{}
	for _, r := range masked {
		byID[r["session_id"]] = r
		assert.Equal(t, "S*** J***", r["patient"])
		assert.Empty(t, r["patient_email"])
	}
	v := byID[visited]
	require.NotNil(t, v)
	assert.Equal(t, "COMPLETED", v["status"])
	assert.Equal(t, "1", v["patient_intervals"])
	assert.Equal(t, "1", v["provider_intervals"])
	assert.NotEmpty(t, v["actual_start"])
	assert.NotEmpty(t, v["actual_end"])
	assert.Equal(t, "1", v["billable_minutes"])
	assert.Equal(t, "false", v["waiting_room_abandoned"])
	a := byID[abandoned]
	require.NotNil(t, a)
	assert.Equal(t, "true", a["waiting_room_abandoned"])
	assert.Equal(t, "0", a["patient_intervals"])
	assert.Equal(t, "1", a["waiting_room_stays"])
	c := byID[cancelled]
	require.NotNil(t, c)
	assert.Equal(t, "CANCELLED", c["status"])
	assert.Equal(t, "patient", c["cancel_reason"])
	assert.Equal(t, "SCHEDULED", byID[scheduled]["status"])

	// With the PHI key: the patient's own name and email, read from the sealed input.
	code, out, h := s.call(t, http.MethodGet, "/attendance.csv?"+rangeQuery, phiAPIKey, "")
	require.Equal(t, http.StatusOK, code, out)
	assert.Equal(t, "true", h.Get("X-PHI-Included"))
	full := csvRows(t, out)
	require.Len(t, full, 4)
	for _, r := range full {
		assert.Equal(t, "Sarah Johnson", r["patient"])
		assert.Equal(t, "sarah.johnson@example.com", r["patient_email"])
	}
	for _, phone := range []string{"555 123 4567", "5551234567"} {
		assert.NotContains(t, out, phone, "the phone is in no export")
	}

	// Analytics over the same hour.
	code, out, _ = s.call(t, http.MethodGet, "/analytics?"+rangeQuery+"&bucket=day",
		plainAPIKey, "")
	require.Equal(t, http.StatusOK, code, out)
	for _, phi := range append(reportPHI, "S*** J***") {
		assert.NotContains(t, out, phi, "the analytics")
	}
	var body struct {
		Data analytics.Report `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &body))
	rep := body.Data
	t.Logf("analytics: %s", out)
	assert.Equal(t, 4, rep.Sessions)
	assert.Equal(t, map[string]int{"COMPLETED": 2, "CANCELLED": 1, "SCHEDULED": 1},
		rep.ByStatus)
	assert.Equal(t, 2, rep.Duration.Sessions)
	assert.NotNil(t, rep.Duration.AverageSeconds)
	assert.Equal(t, 2, rep.NoShow.Concluded)
	assert.Equal(t, 1, rep.NoShow.Abandoned)
	require.NotNil(t, rep.NoShow.Rate)
	assert.InDelta(t, 0.5, *rep.NoShow.Rate, 1e-9)
	require.Len(t, rep.Providers, 1,
		"the cancelled and the scheduled session's provider has nothing concluded")
	assert.Equal(t, 60, rep.Providers[0].BookedMinutes)
	assert.Regexp(t, `^prov-[0-9a-f]{20}$`, rep.Providers[0].ProviderID)
	assert.Equal(t, 4, rep.Encryption.Meetings)
	require.NotNil(t, rep.Encryption.Rate)
	assert.InDelta(t, 1.0, *rep.Encryption.Rate, 1e-9, "the sandbox confirms both")
	assert.Equal(t, 2, rep.Recording.Held)

	// The gauges come from the same source, over the last 30 days.
	code, out, _ = s.call(t, http.MethodGet, "/metrics", plainAPIKey, "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, out, "telehealth_analytics_refresh_failed 0")
	assert.Contains(t, out, `telehealth_analytics_sessions{status="COMPLETED"}`)
	for _, phi := range reportPHI {
		assert.NotContains(t, out, phi, "the metrics")
	}

	// Both exports are audited, with the actor and whether PHI was in them, and
	// nothing of the patient.
	var actions []string
	var record bytes.Buffer
	require.NoError(t, s.audit.Each(t.Context(), func(e audit.Entry) error {
		if e.Action == audit.ActionExport || e.Action == audit.ActionExportPHI {
			actions = append(actions, e.Action+" "+e.Outcome+" "+e.Detail)
			assert.Regexp(t, `^key-[0-9a-f]{16}$`, e.Actor)
		}
		return json.NewEncoder(&record).Encode(e)
	}))
	detail := "from=" + base.Format(time.RFC3339) + " to=" +
		base.Add(time.Hour).Format(time.RFC3339) + " rows=4"
	assert.Contains(t, actions, "export 200 "+detail)
	assert.Contains(t, actions, "export phi 200 "+detail)
	n, err := s.audit.Verify(t.Context())
	require.NoError(t, err)
	assert.Equal(t, strings.Count(record.String(), "\n"), n)
	for _, phi := range reportPHI {
		assert.NotContains(t, record.String(), phi, "the audit log")
		assert.NotContains(t, logs.String(), phi, "the logs")
	}
}

func csvRows(t require.TestingT, body string) []map[string]string {
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

// BenchmarkReports measures the analytics and the export over REPORT_SESSIONS (default
// 300) sessions booked in an hour of their own: open (scheduled), then closed
// (cancelled) and read the first time (each replayed by the worker for its query) and
// again (from the cache of closed sessions), and the PHI export (one history read
// each). Run: TEMPORAL_CLI=... go test -run '^$' -bench Reports -benchtime 1x
// ./internal/app/
func BenchmarkReports(b *testing.B) {
	n := 300
	if v, err := strconv.Atoi(os.Getenv("REPORT_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	s := startReportStack(b, slog.New(slog.DiscardHandler))
	base := time.Now().UTC().Add(300 * 24 * time.Hour).Truncate(time.Hour).
		Add(time.Duration(time.Now().UnixNano()%50) * time.Minute)
	ids := make([]string, n)
	parallel(b, n, func(i int) error {
		code, out, _ := s.call(b, http.MethodPost, "/webhook/telehealth-session",
			plainAPIKey, fmt.Sprintf(`{"booking_id":%q,"patient_email":"p%d@example.com",
			"patient_name":"Pat Bench","scheduled_time":%q,"duration_minutes":15}`,
				uniqueID("rbench"), i, base.Add(time.Duration(i%60)*time.Second).
					Format(time.RFC3339)))
		if code != http.StatusOK {
			return fmt.Errorf("create: %d %s", code, out)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			return err
		}
		ids[i] = m["data"].(map[string]any)["session_id"].(string)
		return nil
	})
	q := "from=" + base.Format(time.RFC3339) + "&to=" + base.Add(time.Hour).Format(time.RFC3339)
	timed := func(what, path, key string, rows int) {
		began := time.Now()
		code, out, _ := s.call(b, http.MethodGet, path, key, "")
		el := time.Since(began)
		if code != http.StatusOK {
			b.Fatalf("%s: %d %s", what, code, out)
		}
		if rows > 0 && strings.Count(out, "\n") != rows+1 {
			b.Fatalf("%s: %d lines, want %d", what, strings.Count(out, "\n"), rows+1)
		}
		b.Logf("%-34s %4d sessions %8.0f ms", what, n, float64(el.Microseconds())/1000)
	}
	for b.Loop() {
		require.Eventually(b, func() bool {
			code, out, _ := s.call(b, http.MethodGet, "/attendance.csv?"+q, plainAPIKey, "")
			return code == http.StatusOK && strings.Count(out, "\n") == n+1
		}, time.Minute, 500*time.Millisecond)
		timed("analytics, open sessions", "/analytics?"+q, plainAPIKey, 0)
		timed("csv masked, open sessions", "/attendance.csv?"+q, plainAPIKey, n)
		timed("csv with PHI, open sessions", "/attendance.csv?"+q, phiAPIKey, n)
		parallel(b, n, func(i int) error {
			code, out, _ := s.call(b, http.MethodPost, "/sessions/"+ids[i]+"/cancel",
				plainAPIKey, `{"reason":"clinic"}`)
			if code != http.StatusOK {
				return fmt.Errorf("cancel: %d %s", code, out)
			}
			return nil
		})
		require.Eventually(b, func() bool {
			resp, err := temporalClient.CountWorkflow(context.Background(),
				&workflowservice.CountWorkflowExecutionsRequest{Query: "ScheduledStart >= '" +
					base.Format(time.RFC3339) + "' AND ScheduledStart < '" +
					base.Add(time.Hour).Format(time.RFC3339) + "' AND ExecutionStatus = 'Running'"})
			return err == nil && resp.GetCount() == 0
		}, time.Minute, 500*time.Millisecond)
		timed("analytics, closed, first read", "/analytics?"+q, plainAPIKey, 0)
		timed("analytics, closed, cached", "/analytics?"+q, plainAPIKey, 0)
		timed("csv with PHI, closed", "/attendance.csv?"+q, phiAPIKey, n)
	}
}

// parallel runs f for 0..n-1 on 8 goroutines and fails on the first error.
func parallel(b *testing.B, n int, f func(i int) error) {
	b.Helper()
	next := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
