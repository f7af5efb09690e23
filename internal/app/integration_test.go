package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/app"
	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/temporalx"
	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/workflows"
)

var (
	// temporalClient talks to the dev server that TestMain starts, with payloads
	// sealed by testCodec as the worker and API seal them.
	temporalClient client.Client
	// rawClient reads the same server without the codec: what anyone with access
	// to Temporal, but not to the keys, sees.
	rawClient client.Client
	// testCodec holds the tests' payload key, testKeys in PAYLOAD_KEYS form.
	testCodec *codec.Codec
	testKeys  string
	// devServer is the dev server's address.
	devServer string
	// httpClient gives up on a hung API instead of hanging the test.
	httpClient = &http.Client{Timeout: 30 * time.Second}
)

// TestMain starts a real Temporal dev server from the pinned CLI (make test passes its
// path in TEMPORAL_CLI), on free ports, in memory. Without the CLI the integration
// tests are skipped locally, and fail in CI.
func TestMain(m *testing.M) {
	path := os.Getenv("TEMPORAL_CLI")
	if path == "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "TEMPORAL_CLI is not set: run the tests with make test")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "skipping integration tests: TEMPORAL_CLI is not set")
		os.Exit(0)
	}
	ctx := context.Background()
	quiet := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  path,
		LogLevel:      "error",
		ClientOptions: &client.Options{Logger: quiet},
		Stdout:        io.Discard,
		Stderr:        io.Discard,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start dev server:", err)
		os.Exit(1)
	}
	rawClient = srv.Client()
	devServer = srv.FrontendHostPort()
	testKeys, err = codec.NewKey("test-1")
	if err == nil {
		keys, _ := codec.ParseKeys(testKeys)
		testCodec, err = codec.New(keys, "test-1")
	}
	if err == nil {
		temporalClient, err = temporalx.Dial(devServer, "default",
			slog.New(slog.DiscardHandler), testCodec)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "codec client:", err)
		os.Exit(1)
	}
	err = temporalx.EnsureSearchAttributes(ctx, temporalClient, "default",
		workflows.SearchAttributes)
	code := 1
	if err == nil {
		code = m.Run()
	} else {
		fmt.Fprintln(os.Stderr, "search attributes:", err)
	}
	_ = srv.Stop()
	os.Exit(code)
}

// stack is the service as make run wires it, against a sandbox that the test controls.
type stack struct {
	api     *httptest.Server
	sandbox *sandbox.Server
	cfg     config.Config
}

func startStack(t *testing.T, vars map[string]string) *stack {
	t.Helper()
	return startStackWith(t, vars, temporalClient,
		slog.New(slog.NewTextHandler(testWriter{t}, nil)))
}

// stackOption adjusts the sandbox or the API's configuration before they start.
type stackOption struct {
	sandbox func(*sandbox.Server)
	api     func(*api.Config)
}

// startStackWith starts the stack on a Temporal client and logger of the caller's.
func startStackWith(
	t *testing.T,
	vars map[string]string,
	tc client.Client,
	logger *slog.Logger,
	opts ...stackOption,
) *stack {
	t.Helper()
	// The API's address is known before its handler: for the launch links, and for
	// the sandbox's signed webhooks when ZOOM_WEBHOOK_SECRET_TOKEN is set.
	s := httptest.NewUnstartedServer(nil)
	so := sandbox.Options{AccountID: "acct", ClientID: "client", ClientSecret: "secret"}
	if secret := vars["ZOOM_WEBHOOK_SECRET_TOKEN"]; secret != "" {
		so.WebhookURL = "http://" + s.Listener.Addr().String() + "/webhooks/zoom"
		so.WebhookSecret = secret
	}
	sb, err := sandbox.New(so)
	require.NoError(t, err)
	for _, o := range opts {
		if o.sandbox != nil {
			o.sandbox(sb)
		}
	}
	platform := httptest.NewServer(sb)
	t.Cleanup(platform.Close)

	env := map[string]string{
		"DATA_DIR": t.TempDir(),
		// A queue per run: a session left running by an earlier run must not reach
		// this run's sandbox.
		"TASK_QUEUE":             uniqueID("queue"),
		"VIDEO_PLATFORM":         "zoom",
		"VIDEO_PLATFORM_API_URL": platform.URL + "/v2",
		"ZOOM_OAUTH_URL":         platform.URL + "/oauth/token",
		"ZOOM_ACCOUNT_ID":        "acct",
		"ZOOM_CLIENT_ID":         "client",
		"ZOOM_CLIENT_SECRET":     "secret",
		"ZOOM_USER_ID":           "dr@clinic.example",
		"VIDEO_PLATFORM_TIMEOUT": "2s",
	}
	env["PUBLIC_BASE_URL"] = "http://" + s.Listener.Addr().String()
	for k, v := range vars {
		env[k] = v
	}
	cfg, err := config.FromMap(env)
	require.NoError(t, err)

	acts, stop, err := app.NewActivities(t.Context(), cfg, logger)
	require.NoError(t, err)
	t.Cleanup(stop)
	w := app.NewWorker(tc, cfg.TaskQueue, acts)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	apiCfg := app.APIConfig(cfg)
	pc, err := app.Codec(cfg)
	require.NoError(t, err)
	guard, release, err := app.Guard(t.Context(), cfg, logger, pc)
	require.NoError(t, err)
	t.Cleanup(release)
	apiCfg.Guard = guard
	for _, o := range opts {
		if o.api != nil {
			o.api(&apiCfg)
		}
	}
	h, err := api.New(apiCfg,
		&api.Temporal{Client: tc, TaskQueue: cfg.TaskQueue}, logger)
	require.NoError(t, err)
	s.Config.Handler = h
	s.Start()
	t.Cleanup(s.Close)
	return &stack{api: s, sandbox: sb, cfg: cfg}
}

func (s *stack) post(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	resp, err := httpClient.Post(s.api.URL+"/webhook/telehealth-session",
		"application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

func (s *stack) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	resp, err := httpClient.Get(s.api.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

func booking(id string, start time.Time, minutes int) string {
	return fmt.Sprintf(`{"booking_id":%q,"patient_email":"sarah.johnson@example.com",
		"patient_name":"Sarah Johnson","patient_phone":"+1 555 123 4567",
		"scheduled_time":%q,"duration_minutes":%d}`,
		id, start.UTC().Format(time.RFC3339), minutes)
}

func TestBookingEndToEnd(t *testing.T) {
	s := startStack(t, nil)
	start := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	id := uniqueID("E2E")

	code, first := s.post(t, booking(id, start, 45))
	require.Equal(t, http.StatusOK, code, first)
	data := first["data"].(map[string]any)
	sessionID := data["session_id"].(string)
	assert.Regexp(t, `^SESSION-\d{13}-[0-9a-z]{6}$`, sessionID)
	assert.Contains(t, data["meeting_url"], "/j/")
	assert.Contains(t, data["meeting_url"], "?pwd=")
	assert.NotContains(t, data["meeting_url"], "role=", "the patient link is the platform's")
	// The provider gets our launch link; the platform's start link is minted at click.
	assert.Contains(t, data["provider_url"], s.api.URL+"/sessions/"+sessionID+"/launch/")
	startURL := launchHost(t, data["provider_url"].(string))
	assert.Contains(t, startURL, "/s/")
	assert.Equal(t, map[string]any{"encryption_enabled": true, "waiting_room_enabled": true},
		data["security"])

	// The same request again: the same session, no second meeting.
	code, again := s.post(t, booking(id, start, 45))
	require.Equal(t, http.StatusOK, code, again)
	assert.Equal(t, sessionID, again["data"].(map[string]any)["session_id"])
	assert.Equal(t, data["meeting_url"], again["data"].(map[string]any)["meeting_url"])
	assert.Len(t, s.sandbox.MeetingIDs(), 1)

	// Other terms for the same booking: a conflict, and still one meeting.
	code, conflict := s.post(t, booking(id, start.Add(time.Hour), 45))
	assert.Equal(t, http.StatusConflict, code, conflict)
	assert.Len(t, s.sandbox.MeetingIDs(), 1)

	// Another patient under the same booking id: a conflict, never the first one's links.
	other := strings.Replace(booking(id, start, 45), "sarah.johnson@", "someone.else@", 1)
	code, conflict = s.post(t, other)
	assert.Equal(t, http.StatusConflict, code, conflict)
	assert.NotContains(t, fmt.Sprint(conflict), data["provider_url"])

	// The session is readable by its id (visibility is eventually consistent).
	var state map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body := s.get(t, "/sessions/"+sessionID)
		if assert.Equal(c, http.StatusOK, code) {
			state = body["data"].(map[string]any)
		}
	}, 10*time.Second, 100*time.Millisecond)
	assert.Equal(t, "SCHEDULED", state["status"])

	// The workflow waits, on a durable timer, for the session's end.
	wfID := workflows.WorkflowID(id)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.True(c, hasTimer(t, wfID), "timer started")
	}, 10*time.Second, 100*time.Millisecond)

	// The side effects reached the local sinks, masked.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		out := readFile(t, s.cfg.Path("outbox.jsonl"))
		for _, ch := range []string{`"channel":"email"`, `"channel":"sms"`, `"channel":"staff"`} {
			assert.Contains(c, out, ch)
		}
		assert.Contains(c, readFile(t, s.cfg.Path("sessions.csv")), sessionID)
	}, 10*time.Second, 100*time.Millisecond)
	_, zak, _ := strings.Cut(startURL, "zak=")
	require.NotEmpty(t, zak)
	for _, f := range []string{"outbox.jsonl", "sessions.csv"} {
		body := readFile(t, s.cfg.Path(f))
		assert.NotContains(t, body, "sarah.johnson@example.com", f)
		assert.NotContains(t, body, "Sarah Johnson", f)
		assert.NotContains(t, body, zak, "the host's token stays out of %s", f)
	}
}

func TestPlatformRejectionIsA500AndAFailedWorkflow(t *testing.T) {
	s := startStack(t, nil)
	s.sandbox.InjectNext(sandbox.CreateMeeting, 1, sandbox.Fault{Status: 400, Code: 300})

	id := uniqueID("REJECT")
	code, body := s.post(t, booking(id, time.Now().Add(time.Hour), 30))

	assert.Equal(t, http.StatusInternalServerError, code)
	assert.Equal(t, "Failed to create video meeting. Please check API credentials.",
		body["error"])
	assert.Empty(t, s.sandbox.MeetingIDs(), "no meeting, and no fake link")
	// The workflow fails once staff are told and the session log shows it.
	run := temporalClient.GetWorkflow(t.Context(), workflows.WorkflowID(id), "")
	assert.ErrorContains(t, run.Get(t.Context(), nil), "status 400")
	assert.Contains(t, readFile(t, s.cfg.Path("sessions.csv")), ",FAILED")
	assert.Contains(t, readFile(t, s.cfg.Path("outbox.jsonl")), "Telehealth session failed")

	// A failed booking may be posted again; its first session keeps its own record.
	failed := sessionIDOf(t, id)
	code, body = s.post(t, booking(id, time.Now().Add(time.Hour), 30))
	require.Equal(t, http.StatusOK, code, body)
	assert.NotEqual(t, failed, body["data"].(map[string]any)["session_id"])
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body := s.get(t, "/sessions/"+failed)
		if assert.Equal(c, http.StatusOK, code) {
			state := body["data"].(map[string]any)
			assert.Equal(c, failed, state["sessionId"])
			assert.Equal(c, "FAILED", state["status"])
		}
	}, 10*time.Second, 100*time.Millisecond)
}

func TestNoWorkerAnswers202InsteadOfHanging(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{"SESSION_CREATE_WAIT": "300ms"})
	require.NoError(t, err)
	h, err := api.New(app.APIConfig(cfg),
		&api.Temporal{Client: temporalClient, TaskQueue: uniqueID("idle"),
			Converter: testCodec.DataConverter()},
		slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := &stack{api: srv}

	// Without the API's own deadline this would wait for the caller to give up.
	id, start := uniqueID("IDLE"), time.Now().Add(time.Hour)
	code, body := s.post(t, booking(id, start, 30))

	assert.Equal(t, http.StatusAccepted, code, body)
	assert.Contains(t, body["message"], "post the same request again")
	sessionID := body["data"].(map[string]any)["session_id"]
	assert.Regexp(t, `^SESSION-[0-9]+-[0-9a-z]{6}$`, sessionID, "the server tells the id")

	// No worker has checked the booking yet; the API does: the same terms are the
	// same pending session, other terms a conflict.
	code, body = s.post(t, booking(id, start, 30))
	assert.Equal(t, http.StatusAccepted, code, body)
	assert.Equal(t, sessionID, body["data"].(map[string]any)["session_id"])
	code, body = s.post(t, booking(id, start, 45))
	assert.Equal(t, http.StatusConflict, code, body)

	// Followed by its id, as the 202 said: not a 404, but not ready either.
	code, body = s.get(t, "/sessions/"+sessionID.(string))
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
}

func TestEngineDownIsA503NotAnAcceptance(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{"SESSION_CREATE_WAIT": "300ms"})
	require.NoError(t, err)
	// A client of a server that does not answer: the port is closed.
	down, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	h, err := api.New(app.APIConfig(cfg), &api.Temporal{Client: down, TaskQueue: "q"},
		slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := &stack{api: srv}

	code, body := s.post(t, booking(uniqueID("DOWN"), time.Now().Add(time.Hour), 30))
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
	assert.Equal(t, false, body["success"])
	code, _ = s.get(t, "/sessions/SESSION-1796324562621-999o2e")
	assert.Equal(t, http.StatusServiceUnavailable, code)
}

// sessionIDOf reads a booking's session id from its latest run.
func sessionIDOf(t *testing.T, bookingID string) string {
	v, err := temporalClient.QueryWorkflow(t.Context(), workflows.WorkflowID(bookingID), "",
		workflows.SessionQuery)
	require.NoError(t, err)
	var state workflows.State
	require.NoError(t, v.Get(&state))
	return state.SessionID
}

func TestSlowPlatformAnswers202ThenTheSessionCompletes(t *testing.T) {
	s := startStack(t, map[string]string{"SESSION_CREATE_WAIT": "300ms"})
	s.sandbox.InjectNext(sandbox.CreateMeeting, 2, sandbox.Fault{Status: 503})

	req := booking(uniqueID("SLOW"), time.Now().Add(time.Hour), 30)
	code, body := s.post(t, req)

	require.Equal(t, http.StatusAccepted, code, body)
	sessionID := body["data"].(map[string]any)["session_id"].(string)
	require.NotEmpty(t, sessionID, "the server tells the id without a worker")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body := s.get(t, "/sessions/"+sessionID)
		if assert.Equal(c, http.StatusOK, code) {
			assert.Equal(c, "SCHEDULED", body["data"].(map[string]any)["status"])
		}
	}, 15*time.Second, 200*time.Millisecond)
	assert.Len(t, s.sandbox.MeetingIDs(), 1)
}

// launchHost follows a launch link one step and returns where it redirects.
func launchHost(t *testing.T, link string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	resp, err := c.Get(link)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	return resp.Header.Get("Location")
}

func hasTimer(t *testing.T, workflowID string) bool {
	iter := temporalClient.GetWorkflowHistory(t.Context(), workflowID, "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		if e.EventType == enumspb.EVENT_TYPE_TIMER_STARTED {
			return true
		}
	}
	return false
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return ""
	}
	require.NoError(t, err)
	return string(b)
}

// testWriter sends the stack's logs to the test's log, shown when a test fails.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// uniqueID returns a booking id that no other run of the test has used.
func uniqueID(prefix string) string {
	return fmt.Sprintf("BOOK-%s-%d", prefix, time.Now().UnixNano())
}

// TestEmbeddedSandboxIsTheDefault wires the activities as make run does: the worker
// serves the sandbox itself, and its meetings survive in a data folder it creates.
func TestEmbeddedSandboxIsTheDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fresh", "data")
	cfg, err := config.FromMap(map[string]string{
		"DATA_DIR":     dir,
		"SANDBOX_ADDR": "127.0.0.1:0",
	})
	require.NoError(t, err)
	acts, stop, err := app.NewActivities(t.Context(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer stop()

	m, err := acts.Video.CreateMeeting(t.Context(), video.MeetingRequest{
		SessionID:       "SESSION-1730851234567-a3f7k2",
		Start:           time.Now().Add(time.Hour),
		DurationMinutes: 30,
	})

	require.NoError(t, err)
	assert.Equal(t, "zoom", m.Platform, "the real Zoom client, against the sandbox")
	assert.True(t, m.Security.WaitingRoomEnabled)
	assert.Contains(t, readFile(t, filepath.Join(dir, "sandbox-meetings.json")), m.ID)
}
