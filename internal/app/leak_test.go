package app_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/integrations/vendortest"
	"github.com/telehealth/sessions/internal/logging"
	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/temporalx"
	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/workflows"
)

// The leak scan's patient: values that appear nowhere else, so any match is a leak.
const (
	leakName  = "Zelda Quintessa Marchbanks"
	leakEmail = "zelda.marchbanks@example.org"
	leakPhone = "+15558675309"
	leakNotes = "Recurring migraines; started sumatriptan; anxious about dosage"
)

func leakScanner() *phi.Scanner {
	return phi.NewScanner(leakName, leakEmail, leakPhone, leakNotes)
}

func leakBooking(id string, start time.Time) string {
	return fmt.Sprintf(`{"booking_id":%q,"patient_email":%q,"patient_name":%q,
		"patient_phone":%q,"provider_notes":%q,"provider_name":"Dr. Who",
		"provider_email":"dr.who@clinic.example","scheduled_time":%q,"duration_minutes":30}`,
		id, leakEmail, leakName, leakPhone, leakNotes, start.UTC().Format(time.RFC3339))
}

// lockedBuffer collects log lines from every goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// rawHistory is a workflow's history as the server stores it, read without the codec,
// in protobuf's wire form: a payload in clear would appear there byte for byte.
func rawHistory(t *testing.T, workflowID string) ([][]byte, []*historypb.HistoryEvent) {
	t.Helper()
	var out [][]byte
	var events []*historypb.HistoryEvent
	iter := rawClient.GetWorkflowHistory(t.Context(), workflowID, "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		b, err := proto.Marshal(e)
		require.NoError(t, err)
		out = append(out, b)
		events = append(events, e)
	}
	desc, err := rawClient.DescribeWorkflowExecution(t.Context(), workflowID, "")
	require.NoError(t, err)
	b, err := proto.Marshal(desc)
	require.NoError(t, err)
	return append(out, b, []byte(workflowID)), events
}

// TestLeakScan runs sessions with a known patient through every side effect, each
// vendor configured against its local server (Sheets, SendGrid, Twilio, the Slack staff
// channel, billing and follow-up webhooks; Zoom on the sandbox), with a platform
// failure, an invalid request and a launch, then scans every log line, API answer,
// request each vendor received, local sink, error and the raw history: the patient's
// values appear in clear nowhere but in the patient's own email and SMS.
//
// The billing and follow-up triggers carry the patient's email to their services by
// design, as the patient's own messages do: they are not scanned.
func TestLeakScan(t *testing.T) {
	logs := &lockedBuffer{}
	logger := logging.New(io.MultiWriter(logs, testWriter{t}), slog.LevelDebug)
	tc, err := temporalx.Dial(devServer, "default", logger, testCodec)
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	v, vars := startVendors(t)
	vars["ZOOM_WEBHOOK_SECRET_TOKEN"] = "leak-scan-webhook-secret"
	vars["FOLLOW_UP_DELAY"] = "1s"
	s := startStackWith(t, vars, tc, logger, stackOption{api: func(c *api.Config) {
		c.Policy.Visit.RejoinGrace = time.Second // the visit closes soon after it ends
	}})

	var answers [][]byte
	post := func(body string) (int, map[string]any) {
		resp, err := httpClient.Post(s.api.URL+"/webhook/telehealth-session",
			"application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		answers = append(answers, raw)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		return resp.StatusCode, m
	}

	// A session that is created, launched, and played through the platform's signed
	// webhooks (the patient's name and email are in them) to billing and follow-up.
	okID := uniqueID("LEAK-OK")
	code, body := post(leakBooking(okID, time.Now().Add(time.Minute)))
	require.Equal(t, http.StatusOK, code, body)
	data := body["data"].(map[string]any)
	sessionID := data["session_id"].(string)
	launchHost(t, data["provider_url"].(string))
	_, state := s.get(t, "/sessions/"+sessionID)
	meetingID := state["data"].(map[string]any)["meeting_id"].(string)
	ctx := t.Context()
	provider := &sandbox.Person{UserName: "Dr Who", Email: "dr.who@clinic.example"}
	patient := &sandbox.Person{UserName: leakName, Email: leakEmail}
	require.NoError(t, s.sandbox.Start(ctx, meetingID, provider))
	require.NoError(t, s.sandbox.Wait(ctx, meetingID, patient))
	require.NoError(t, s.sandbox.Admit(ctx, meetingID, patient))
	require.NoError(t, s.sandbox.Leave(ctx, meetingID, patient))
	require.NoError(t, s.sandbox.End(ctx, meetingID))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Len(c, v.billing.Posts(), 1)
		assert.Len(c, v.followUp.Posts(), 1)
		assert.Len(c, v.ehr.Resources("Appointment"), 1)
		assert.Len(c, v.ehr.Resources("Encounter"), 1)
	}, 30*time.Second, 200*time.Millisecond)

	// A session whose platform refuses: failure messages reach history and staff.
	s.sandbox.InjectNext(sandbox.CreateMeeting, 1, sandbox.Fault{Status: 400, Code: 300})
	failID := uniqueID("LEAK-FAIL")
	code, _ = post(leakBooking(failID, time.Now().Add(time.Hour)))
	require.Equal(t, http.StatusInternalServerError, code)

	// An invalid request that carries the patient's values.
	code, _ = post(strings.Replace(leakBooking(uniqueID("LEAK-BAD"), time.Now()),
		`"duration_minutes":30`, `"duration_minutes":7,"timezone":"`+leakName+`"`, 1))
	require.Equal(t, http.StatusBadRequest, code)

	// Every side effect of both sessions has happened.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Len(c, v.sendgrid.Sent(), 2, "the patient's invitation and the provider's")
		// The invitation; a "you are next" text too when the queue saw the patient
		// before the admit.
		assert.NotEmpty(c, v.twilio.Sent())
		assert.GreaterOrEqual(c, len(v.slack.Posts()), 3,
			"created, waiting room, failed")
		assert.GreaterOrEqual(c, len(v.google.Rows(sheetID, "Sessions")), 3)
	}, 20*time.Second, 100*time.Millisecond)
	err = tc.GetWorkflow(t.Context(), workflows.WorkflowID(failID), "").
		Get(t.Context(), nil)
	require.Error(t, err)
	code, _ = s.get(t, "/sessions/"+sessionID)
	require.Equal(t, http.StatusOK, code)

	// After the visit: the attendance and the FHIR Bundle carry no PHI. The summary
	// carries the provider's notes by design (read here through the real query and
	// codec); the rest of it is scanned like any answer.
	for _, route := range []string{"attendance", "fhir"} {
		answers = append(answers, getRaw(t, s.api.URL+"/sessions/"+sessionID+"/"+route))
	}
	var summary struct {
		Data workflows.Summary `json:"data"`
	}
	require.NoError(t, json.Unmarshal(
		getRaw(t, s.api.URL+"/sessions/"+sessionID+"/summary"), &summary))
	assert.Equal(t, leakNotes, summary.Data.SOAP.Subjective)
	assert.True(t, summary.Data.Attendance[1].Present, "the patient attended")
	summary.Data.SOAP.Subjective = ""
	rest, err := json.Marshal(summary.Data)
	require.NoError(t, err)
	answers = append(answers, rest)

	scan := leakScanner()
	var leaks []phi.Leak
	for i, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		leaks = append(leaks, scan.Scan(fmt.Sprintf("log line %d", i+1), line)...)
	}
	require.Greater(t, bytes.Count(logs.Bytes(), []byte("\n")), 5, "logs were captured")
	for i, a := range answers {
		leaks = append(leaks, scan.Scan(fmt.Sprintf("api answer %d", i+1), a)...)
	}
	leaks = append(leaks, scan.Scan("session log",
		[]byte(readFile(t, s.cfg.Path("sessions.csv"))))...)
	// Billing and follow-up receive the patient's email by design (BAA vendors, see
	// GET /compliance); their bodies are checked in TestFullLifecycleWithEveryVendor.
	for name, reqs := range map[string][]vendortest.Request{
		"google": v.google.Requests(), "slack": v.slack.Requests(),
		"ehr": v.ehr.Requests(),
	} {
		for i, r := range reqs {
			where := fmt.Sprintf("%s request %d", name, i+1)
			leaks = append(leaks, scan.Scan(where, []byte(r.Path+"?"+r.Query))...)
			leaks = append(leaks, scan.Scan(where, r.Body)...)
		}
	}
	// The patient's own messages are the exception: they reach the patient. Any other
	// mail (the provider's) is scanned.
	ownMail := 0
	for i, m := range v.sendgrid.Sent() {
		if m.To() == leakEmail {
			ownMail++
			continue
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		leaks = append(leaks, scan.Scan(fmt.Sprintf("sendgrid mail %d to %s", i+1,
			m.To()), b)...)
	}
	assert.Equal(t, 1, ownMail)
	patientOwn := 0
	for i, line := range strings.Split(readFile(t, s.cfg.Path("outbox.jsonl")), "\n") {
		var rec struct{ Channel string }
		if line == "" || json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec.Channel == "email" || rec.Channel == "sms" {
			patientOwn++ // the patient's own messages are the exception
			continue
		}
		leaks = append(leaks, scan.Scan(fmt.Sprintf("outbox %s line %d", rec.Channel, i+1),
			[]byte(line))...)
	}
	assert.Zero(t, patientOwn, "the vendors replaced the outbox")
	for _, id := range []string{okID, failID} {
		blobs, events := rawHistory(t, workflows.WorkflowID(id))
		require.Greater(t, len(events), 5)
		for i, b := range blobs {
			leaks = append(leaks, scan.Scan(fmt.Sprintf("history of %s, item %d", id, i), b)...)
		}
	}
	assert.Empty(t, leaks, "PHI in clear")

	// The provider's launch token is a credential: the logs, the session log, the
	// sheet and the staff channel keep the link without it.
	link := data["provider_url"].(string)
	token := link[strings.LastIndex(link, "/")+1:]
	require.Greater(t, len(token), 16)
	for where, text := range map[string]string{
		"logs":        string(logs.Bytes()),
		"session log": readFile(t, s.cfg.Path("sessions.csv")),
		"sheet":       fmt.Sprint(v.google.Rows(sheetID, "Sessions")),
		"staff":       fmt.Sprint(v.slack.Posts()),
	} {
		assert.NotContains(t, text, token, "launch token in the %s", where)
	}
	assert.Contains(t, fmt.Sprint(v.google.Rows(sheetID, "Sessions")), "/launch/***")
}

// TestLeakScanCatchesPlantedLeaks proves that the scan fails on a leak: a log line with
// a raw value, a history recorded without the codec, a staff message with a name.
func TestLeakScanCatchesPlantedLeaks(t *testing.T) {
	scan := leakScanner()
	logs := &lockedBuffer{}
	// A plain slog handler, not ours: nothing masks the raw value.
	slog.New(slog.NewJSONHandler(logs, nil)).Info("booking received", "to", leakEmail)
	assert.NotEmpty(t, scan.Scan("planted log", logs.Bytes()))

	// A workflow started by a client without the codec stores its input in clear.
	id := uniqueID("PLANTED")
	_, err := rawClient.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{
		ID: id, TaskQueue: uniqueID("nobody"),
	}, "NoSuchWorkflow", map[string]string{"patient_name": leakName})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rawClient.TerminateWorkflow(t.Context(), id, "", "test") })
	blobs, _ := rawHistory(t, id)
	var found []phi.Leak
	for _, b := range blobs {
		found = append(found, scan.Scan("planted history", b)...)
	}
	assert.NotEmpty(t, found)

	// And the same input through the codec does not show.
	sealedID := uniqueID("SEALED")
	_, err = temporalClient.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{
		ID: sealedID, TaskQueue: uniqueID("nobody"),
	}, "NoSuchWorkflow", map[string]string{"patient_name": leakName})
	require.NoError(t, err)
	t.Cleanup(func() { _ = temporalClient.TerminateWorkflow(t.Context(), sealedID, "", "test") })
	blobs, _ = rawHistory(t, sealedID)
	for _, b := range blobs {
		assert.Empty(t, scan.Scan("sealed history", b))
	}
}

// TestWorkflowShowNeedsTheCodec runs the Temporal CLI: without the codec endpoint a
// session's history shows ciphertext only; with it, the decoded values.
func TestWorkflowShowNeedsTheCodec(t *testing.T) {
	cli := os.Getenv("TEMPORAL_CLI")
	s := startStack(t, map[string]string{"PAYLOAD_KEYS": testKeys})
	id := uniqueID("SHOW")
	code, body := s.post(t, leakBooking(id, time.Now().Add(2*time.Hour)))
	require.Equal(t, http.StatusOK, code, body)

	// show runs the CLI and returns its JSON output, every payload's data decoded from
	// base64 and appended, and how many payloads were encrypted.
	show := func(extra ...string) (string, int) {
		args := append([]string{"workflow", "show", "--workflow-id", workflows.WorkflowID(id),
			"--address", devServer, "--output", "json"}, extra...)
		out, err := exec.CommandContext(t.Context(), cli, args...).CombinedOutput()
		require.NoError(t, err, string(out))
		var doc any
		require.NoError(t, json.Unmarshal(out, &doc), string(out))
		var b strings.Builder
		b.Write(out)
		sealed := 0
		walkPayloads(doc, func(encoding string, data []byte) {
			if encoding == codec.EncodingEncrypted {
				sealed++
			}
			b.WriteString("\n")
			b.Write(data)
		})
		return b.String(), sealed
	}
	scan := leakScanner()

	plain, sealed := show()
	assert.Empty(t, scan.Scan("workflow show", []byte(plain)))
	assert.Greater(t, sealed, 5, "payloads in the history are ciphertext")

	decoded, sealed := show("--codec-endpoint", s.api.URL+"/codec")
	assert.Zero(t, sealed)
	assert.Contains(t, decoded, leakEmail)
	assert.Contains(t, decoded, leakName)
}

// walkPayloads calls fn with the encoding and data of every payload in a JSON
// document: an object with base64 "metadata.encoding" and "data".
func walkPayloads(v any, fn func(encoding string, data []byte)) {
	switch x := v.(type) {
	case map[string]any:
		meta, ok := x["metadata"].(map[string]any)
		if enc, isStr := meta["encoding"].(string); ok && isStr {
			e, _ := base64.StdEncoding.DecodeString(enc)
			d, _ := base64.StdEncoding.DecodeString(fmt.Sprint(x["data"]))
			fn(string(e), d)
		}
		for _, c := range x {
			walkPayloads(c, fn)
		}
	case []any:
		for _, c := range x {
			walkPayloads(c, fn)
		}
	}
}

// getRaw is a GET's body, which must be a 200.
func getRaw(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := httpClient.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	return raw
}
