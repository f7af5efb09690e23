package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/app"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/sink"
	"github.com/telehealth/sessions/internal/video/sandbox"
)

const hookSecret = "integration-webhook-secret"

// startVisitStack is startStack with the live visit: the sandbox signs its events and
// sends them to the API's webhook; the visit's grace periods are seconds, not minutes.
func startVisitStack(t testing.TB, logger *slog.Logger) *stack {
	t.Helper()
	var handler atomic.Pointer[http.Handler]
	apiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(apiSrv.Close)

	sb, err := sandbox.New(sandbox.Options{
		AccountID: "acct", ClientID: "client", ClientSecret: "secret",
		WebhookURL: apiSrv.URL + "/webhooks/zoom", WebhookSecret: hookSecret,
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
	h, err := api.New(apiCfg,
		&api.Temporal{Client: temporalClient, TaskQueue: cfg.TaskQueue}, logger)
	require.NoError(t, err)
	handler.Store(&h)
	return &stack{api: apiSrv, sandbox: sb, cfg: cfg}
}

// outbox reads the outbox's records on a channel.
func outbox(t *testing.T, cfg config.Config, channel string) []sink.Record {
	t.Helper()
	f, err := os.Open(cfg.Path("outbox.jsonl"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []sink.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r sink.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		if r.Channel == channel {
			out = append(out, r)
		}
	}
	return out
}

func TestVisitThroughSignedWebhooks(t *testing.T) {
	s := startVisitStack(t, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	start := time.Now().UTC().Add(time.Minute).Format(time.RFC3339)
	code, body := s.post(t, fmt.Sprintf(`{"booking_id":%q,
		"patient_email":"sarah.johnson@example.com","patient_name":"Sarah Johnson",
		"provider_email":"dr.smith@clinic.example","scheduled_time":%q,
		"duration_minutes":30}`, uniqueID("visit"), start))
	require.Equal(t, http.StatusOK, code, body)
	sessionID := body["data"].(map[string]any)["session_id"].(string)
	_, body = s.get(t, "/sessions/"+sessionID)
	meetingID := body["data"].(map[string]any)["meeting_id"].(string)
	require.NotEmpty(t, meetingID)

	ctx := context.Background()
	provider := &sandbox.Person{UserName: "Dr Smith", Email: "dr.smith@clinic.example"}
	patient := &sandbox.Person{UserName: "Sarah Johnson", Email: "sarah.johnson@example.com"}
	interpreter := &sandbox.Person{UserName: "Ines Interp", Email: "ines@example.com",
		CustomerKey: "interpreter-7"}

	require.NoError(t, s.sandbox.Start(ctx, meetingID, provider))
	require.NoError(t, s.sandbox.Wait(ctx, meetingID, patient))
	// The patient shows in the provider's waiting room, masked.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body := s.get(t, "/providers/dr.smith@clinic.example/waiting-room")
		require.Equal(c, http.StatusOK, code)
		room := body["data"].(map[string]any)["waiting"].([]any)
		require.Len(c, room, 1)
		w := room[0].(map[string]any)
		assert.Equal(c, sessionID, w["session_id"])
		assert.Equal(c, "S*** J***", w["patient"])
	}, 10*time.Second, 200*time.Millisecond)

	time.Sleep(1100 * time.Millisecond)
	require.NoError(t, s.sandbox.Admit(ctx, meetingID, patient))
	require.NoError(t, s.sandbox.Join(ctx, meetingID, interpreter))
	time.Sleep(2100 * time.Millisecond)
	require.NoError(t, s.sandbox.Leave(ctx, meetingID, patient))
	require.NoError(t, s.sandbox.End(ctx, meetingID))

	var state map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body := s.get(t, "/sessions/"+sessionID)
		require.Equal(c, http.StatusOK, code)
		state = body["data"].(map[string]any)
		assert.Equal(c, "COMPLETED", state["status"])
		d := state["deliveries"].(map[string]any)
		assert.Equal(c, "sent", d["billing"].(map[string]any)["status"])
		assert.Equal(c, "sent", d["followUp"].(map[string]any)["status"])
	}, 30*time.Second, 250*time.Millisecond)

	att := state["attendance"].(map[string]any)
	assert.Len(t, att["patient"], 1)
	assert.Len(t, att["provider"], 1)
	assert.Len(t, att["other"], 1, "the interpreter, by their key")
	wait := att["waitingRoom"].([]any)
	require.Len(t, wait, 1)
	assert.Equal(t, true, wait[0].(map[string]any)["admitted"])
	assert.GreaterOrEqual(t, att["totalWaitSeconds"], float64(1))
	assert.GreaterOrEqual(t, att["billableSeconds"], float64(2))
	assert.Equal(t, float64(1), state["billable_minutes"])
	assert.NotNil(t, state["actual_start"])
	assert.NotNil(t, state["actual_end"])

	bills := outbox(t, s.cfg, sink.ChannelBilling)
	require.Len(t, bills, 1, "billing triggered once")
	bill := bills[0].Payload.(map[string]any)
	assert.Equal(t, sessionID, bill["sessionId"])
	assert.Equal(t, float64(1), bill["durationMinutes"], "billed on the real duration")
	assert.Equal(t, float64(30), bill["scheduledMinutes"])
	assert.Len(t, outbox(t, s.cfg, sink.ChannelFollowUp), 1)

	staff := outbox(t, s.cfg, sink.ChannelStaff)
	var titles []string
	for _, r := range staff {
		titles = append(titles, r.Subject)
	}
	assert.Contains(t, titles, "Telehealth patient in the waiting room")

	// First in the provider's queue, the patient was told they were next, once.
	var next int
	for _, r := range outbox(t, s.cfg, sink.ChannelEmail) {
		if strings.HasPrefix(r.Subject, "You are next") && r.SessionID == sessionID {
			next++
		}
	}
	assert.Equal(t, 1, next)

	// Nothing the platform said about the people reached the session.
	raw, _ := json.Marshal(state)
	for _, phi := range []string{"Sarah", "sarah.johnson", "Ines", "ines@"} {
		assert.NotContains(t, string(raw), phi)
	}

	// A late event for the closed session is acknowledged, not retried.
	require.NoError(t, s.sandbox.Start(ctx, meetingID, provider))
}

func TestCancelBeforeTheSessionExists(t *testing.T) {
	s := startVisitStack(t, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	booking := uniqueID("cancel")
	resp, err := httpClient.Post(s.api.URL+"/bookings/"+booking+"/cancel",
		"application/json", strings.NewReader(`{"reason":"patient"}`))
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, "CANCELLED", body["data"].(map[string]any)["status"])

	// The booking's create comes later: it finds the session cancelled, and no meeting
	// is made.
	start := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	code, body := s.post(t, fmt.Sprintf(`{"booking_id":%q,
		"patient_email":"p@example.com","scheduled_time":%q}`, booking, start))
	assert.Equal(t, http.StatusConflict, code, body)
	assert.Contains(t, body["error"], "cancelled")
	assert.Empty(t, s.sandbox.MeetingIDs())
}

func TestRescheduleAndCancelOverHTTP(t *testing.T) {
	s := startVisitStack(t, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	start := time.Now().UTC().Add(3 * time.Hour).Truncate(time.Second)
	code, body := s.post(t, fmt.Sprintf(`{"booking_id":%q,"patient_email":"p@example.com",
		"scheduled_time":%q}`, uniqueID("move"), start.Format(time.RFC3339)))
	require.Equal(t, http.StatusOK, code, body)
	id := body["data"].(map[string]any)["session_id"].(string)

	later := start.Add(24 * time.Hour)
	resp, err := httpClient.Post(s.api.URL+"/sessions/"+id+"/reschedule",
		"application/json", strings.NewReader(fmt.Sprintf(
			`{"scheduled_time":%q,"duration_minutes":45}`, later.Format(time.RFC3339))))
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	data := body["data"].(map[string]any)
	assert.Equal(t, float64(45), data["duration_minutes"])

	// The sandbox meeting moved.
	ids := s.sandbox.MeetingIDs()
	require.Len(t, ids, 1)

	// A session id one character short cancels nothing, and says so.
	resp, err = httpClient.Post(s.api.URL+"/sessions/"+id[:len(id)-1]+"/cancel",
		"application/json", strings.NewReader(`{"reason":"clinic"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, err = httpClient.Post(s.api.URL+"/sessions/"+id+"/cancel", "application/json",
		strings.NewReader(`{"reason":"clinic"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool { return len(s.sandbox.MeetingIDs()) == 0 },
		10*time.Second, 100*time.Millisecond, "the meeting is deleted")

	// Too late to move it now: a clear refusal, not a 500.
	resp, err = httpClient.Post(s.api.URL+"/sessions/"+id+"/reschedule",
		"application/json", strings.NewReader(fmt.Sprintf(`{"scheduled_time":%q}`,
			later.Add(time.Hour).Format(time.RFC3339))))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
}

// BenchmarkWebhookToSignal measures webhook-to-ack latency against the real dev server:
// a signed Zoom event over HTTP, verified, parsed and signalled to a running session,
// for a few thousand events. It prints p50 and p99.
//
//	TEMPORAL_CLI=... go test -run '^$' -bench WebhookToSignal -benchtime 1x ./internal/app/
func BenchmarkWebhookToSignal(b *testing.B) {
	s := startVisitStack(b, slog.New(slog.DiscardHandler))
	start := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	resp, err := httpClient.Post(s.api.URL+"/webhook/telehealth-session", "application/json",
		strings.NewReader(fmt.Sprintf(`{"booking_id":%q,"patient_email":"p@example.com",
		"scheduled_time":%q}`, uniqueID("bench"), start)))
	require.NoError(b, err)
	var body map[string]any
	require.NoError(b, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	sessionID := body["data"].(map[string]any)["session_id"].(string)
	meetingID := ""
	require.Eventually(b, func() bool {
		r, err := httpClient.Get(s.api.URL + "/sessions/" + sessionID)
		if err != nil {
			return false
		}
		defer r.Body.Close()
		var got map[string]any
		_ = json.NewDecoder(r.Body).Decode(&got)
		meetingID, _ = got["data"].(map[string]any)["meeting_id"].(string)
		return meetingID != ""
	}, 10*time.Second, 100*time.Millisecond)

	const events = 3000
	var lat []time.Duration
	sent := 0
	for b.Loop() {
		lat = lat[:0]
		for i := range events {
			ts := time.Now()
			ev := fmt.Appendf(nil, `{"event":"meeting.participant_joined","event_ts":%d,
"payload":{"account_id":"acct","object":{"id":%q,"uuid":"bench","host_id":"H",
"participant":{"user_id":"%d","participant_uuid":"guest-%d","customer_key":"k-%d",
"join_time":%q}}}}`, ts.UnixMilli(), meetingID, i, sent, i, ts.UTC().Format(time.RFC3339))
			sec := strconv.FormatInt(ts.Unix(), 10)
			req, _ := http.NewRequest(http.MethodPost, s.api.URL+"/webhooks/zoom",
				bytes.NewReader(ev))
			req.Header.Set("x-zm-request-timestamp", sec)
			req.Header.Set("x-zm-signature", sandbox.Sign(hookSecret, sec, ev))
			began := time.Now()
			r, err := httpClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			r.Body.Close()
			lat = append(lat, time.Since(began))
			if r.StatusCode != http.StatusOK {
				b.Fatalf("status %d", r.StatusCode)
			}
			sent++
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
	fmt.Printf("webhook-to-ack with Temporal over %d events: p50 %v, p99 %v\n",
		events, p50, p99)

	// Every event reached the session, across its continue-as-new.
	require.EventuallyWithT(b, func(c *assert.CollectT) {
		r, err := httpClient.Get(s.api.URL + "/sessions/" + sessionID)
		require.NoError(c, err)
		defer r.Body.Close()
		var got map[string]any
		require.NoError(c, json.NewDecoder(r.Body).Decode(&got))
		seen, _ := got["data"].(map[string]any)["eventsSeen"].(float64)
		assert.Equal(c, float64(sent), seen)
	}, 60*time.Second, 500*time.Millisecond)
}
