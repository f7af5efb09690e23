package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/visits"
	"github.com/telehealth/sessions/workflows"
)

const webhookSecret = "zoom-secret-token"

// fakeVisits is a Sessions with the live visit's operations; it records the signals.
type fakeVisits struct {
	fakeSessions
	mu        sync.Mutex
	signals   []workflows.VisitEvent
	signalErr error
	change    *workflows.State
	changeErr error
	room      []visits.Waiting
	cancelled []string
	pending   []visits.PendingDeletion // recordings_test.go
}

func (f *fakeVisits) SignalVisit(_ context.Context, e workflows.VisitEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.signalErr != nil {
		return f.signalErr
	}
	f.signals = append(f.signals, e)
	return nil
}

func (f *fakeVisits) Reschedule(_ context.Context, id string,
	_ workflows.RescheduleRequest) (workflows.State, error) {
	if f.change == nil {
		return workflows.State{}, f.changeErr
	}
	return *f.change, f.changeErr
}

func (f *fakeVisits) CancelBooking(ctx context.Context, id string,
	r workflows.CancelRequest, p workflows.Policy) (workflows.State, error) {
	return f.Cancel(ctx, "booking:"+id, r, p)
}

func (f *fakeVisits) Cancel(_ context.Context, id string, _ workflows.CancelRequest,
	_ workflows.Policy) (workflows.State, error) {
	f.cancelled = append(f.cancelled, id)
	if f.change == nil {
		return workflows.State{}, f.changeErr
	}
	return *f.change, f.changeErr
}

func (f *fakeVisits) WaitingRoom(_ context.Context, p string) ([]visits.Waiting, error) {
	return f.room, nil
}

func (f *fakeVisits) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.signals)
}

func visitServer(t testing.TB, f *fakeVisits) (http.Handler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	h, err := api.New(api.Config{
		APIKeys:           []string{testKey},
		CreateWait:        time.Second,
		DefaultDuration:   30,
		ZoomWebhookSecret: webhookSecret,
	}, f, slog.New(slog.NewJSONHandler(&logs, nil)))
	require.NoError(t, err)
	return h, &logs
}

// sign is Zoom's scheme, written out here apart from the code under test.
func sign(secret string, ts int64, body []byte) (string, string) {
	t := strconv.FormatInt(ts, 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + t + ":" + string(body)))
	return t, "v0=" + hex.EncodeToString(mac.Sum(nil))
}

func hook(h http.Handler, body []byte, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/zoom", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func signed(body []byte, at time.Time) map[string]string {
	ts, sig := sign(webhookSecret, at.Unix(), body)
	return map[string]string{"x-zm-request-timestamp": ts, "x-zm-signature": sig}
}

// joined is a Zoom participant_joined event, PHI and all, with the meeting id as a
// string, as Zoom sends it in participant events.
func joined(meetingID string, at time.Time) []byte {
	return fmt.Appendf(nil, `{"event":"meeting.participant_joined","event_ts":%d,
"payload":{"account_id":"acc","object":{"id":%q,"uuid":"inst==","host_id":"HOST1",
"topic":"Telehealth session S","type":2,"duration":30,"participant":{
"user_id":"16778240","user_name":"Sarah Johnson","email":"sarah.johnson@example.com",
"phone_number":"+15551234567","participant_uuid":"PU-1","customer_key":"pk-abc",
"join_time":%q}}}}`, at.UnixMilli(), meetingID, at.UTC().Format(time.RFC3339))
}

func TestZoomWebhookRejectsUnsigned(t *testing.T) {
	now := time.Now()
	body := joined("81234567890", now)
	stale := signed(body, now.Add(-6*time.Minute))
	future := signed(body, now.Add(6*time.Minute))
	wrongKey := signed(body, now)
	_, wrongKey["x-zm-signature"] = sign("another-secret", now.Unix(), body)
	tampered := signed(body, now)
	for name, headers := range map[string]map[string]string{
		"missing":       {},
		"no signature":  {"x-zm-request-timestamp": strconv.FormatInt(now.Unix(), 10)},
		"no timestamp":  {"x-zm-signature": signed(body, now)["x-zm-signature"]},
		"bad format":    {"x-zm-request-timestamp": "yesterday", "x-zm-signature": "v0=00"},
		"stale":         stale,
		"from future":   future,
		"wrong secret":  wrongKey,
		"other payload": tampered,
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeVisits{}
			h, _ := visitServer(t, f)
			b := body
			if name == "other payload" {
				b = joined("89999999999", now)
			}
			w := hook(h, b, headers)
			assert.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
			assert.Zero(t, f.count(), "nothing reached a workflow")
		})
	}
}

func TestZoomWebhookRejectsReplay(t *testing.T) {
	f := &fakeVisits{}
	h, _ := visitServer(t, f)
	body := joined("81234567890", time.Now())
	headers := signed(body, time.Now())

	require.Equal(t, http.StatusOK, hook(h, body, headers).Code)
	assert.Equal(t, http.StatusUnauthorized, hook(h, body, headers).Code)
	assert.Equal(t, 1, f.count())

	// Zoom's own retry is signed afresh: accepted, and carries the same event key, so
	// the session drops it.
	require.Equal(t, http.StatusOK,
		hook(h, body, signed(body, time.Now().Add(time.Second))).Code)
	require.Equal(t, 2, f.count())
	assert.Equal(t, f.signals[0].Key, f.signals[1].Key)
}

func TestZoomURLValidation(t *testing.T) {
	f := &fakeVisits{}
	h, _ := visitServer(t, f)
	body := []byte(`{"event":"endpoint.url_validation","event_ts":1,` +
		`"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}`)
	w := hook(h, body, signed(body, time.Now()))
	require.Equal(t, http.StatusOK, w.Code)
	var got map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write([]byte("qgg8vlvZRS6UYooatFL8Aw"))
	assert.Equal(t, "qgg8vlvZRS6UYooatFL8Aw", got["plainToken"])
	assert.Equal(t, hex.EncodeToString(mac.Sum(nil)), got["encryptedToken"])

	// Unsigned, the challenge is refused like anything else.
	assert.Equal(t, http.StatusUnauthorized, hook(h, body, nil).Code)
}

func TestZoomEventBecomesSignalWithoutPHI(t *testing.T) {
	f := &fakeVisits{}
	h, logs := visitServer(t, f)
	at := time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)
	body := joined("81234567890", at)
	w := hook(h, body, signed(body, time.Now()))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, 1, f.count())
	e := f.signals[0]
	assert.Equal(t, workflows.EventJoined, e.Type)
	assert.Equal(t, "81234567890", e.MeetingID)
	assert.Equal(t, at, e.At, "the event's own time")
	assert.Equal(t, "inst==", e.Instance)
	require.NotNil(t, e.Participant)
	assert.Equal(t, "PU-1", e.Participant.ID)
	assert.Equal(t, "pk-abc", e.Participant.Key)
	assert.False(t, e.Participant.Host)
	assert.NotEmpty(t, e.Key)

	sent, err := json.Marshal(e)
	require.NoError(t, err)
	for _, phi := range []string{"Sarah", "Johnson", "sarah.johnson", "5551234567"} {
		assert.NotContains(t, string(sent), phi, "PHI in the signal")
		assert.NotContains(t, logs.String(), phi, "PHI in the logs")
	}

	// A meeting id as a number, beyond float64's exact range, and the host.
	host := []byte(`{"event":"meeting.participant_left","event_ts":1767366245000,
"payload":{"object":{"id":9007199254740993,"uuid":"u","host_id":"HOST1",
"participant":{"id":"HOST1","user_id":"1","leave_time":"2030-01-02T15:30:00Z"}}}}`)
	require.Equal(t, http.StatusOK, hook(h, host, signed(host, time.Now())).Code)
	require.Equal(t, 2, f.count())
	assert.Equal(t, "9007199254740993", f.signals[1].MeetingID)
	assert.True(t, f.signals[1].Participant.Host)
	assert.Equal(t, workflows.EventLeft, f.signals[1].Type)
}

func TestZoomWebhookAcknowledgesWhatItCannotUse(t *testing.T) {
	f := &fakeVisits{signalErr: api.ErrUnknownMeeting}
	h, logs := visitServer(t, f)
	body := joined("81234567890", time.Now())
	w := hook(h, body, signed(body, time.Now()))
	assert.Equal(t, http.StatusOK, w.Code, "unknown or closed: acknowledged")
	assert.Contains(t, logs.String(), "webhook for unknown meeting")

	other := []byte(`{"event":"meeting.sharing_started","event_ts":1,"payload":{}}`)
	assert.Equal(t, http.StatusOK, hook(h, other, signed(other, time.Now())).Code)

	junk := []byte(`{"event":"meeting.started","event_ts":1,"payload":{"object":{"id":"x"}}}`)
	assert.Equal(t, http.StatusBadRequest, hook(h, junk, signed(junk, time.Now())).Code)

	f.signalErr = api.ErrNotIndexed
	body = bytes.Replace(joined("81234567892", time.Now()),
		[]byte("Telehealth session S"), []byte("Team stand-up"), 1)
	assert.Equal(t, http.StatusOK, hook(h, body, signed(body, time.Now())).Code,
		"a meeting that is not ours is acknowledged")
	body = joined("81234567893", time.Now())
	assert.Equal(t, http.StatusServiceUnavailable,
		hook(h, body, signed(body, time.Now())).Code,
		"a meeting of ours that search has not caught up with is retried by Zoom")

	f.signalErr = errors.New("temporal unavailable")
	body = joined("81234567891", time.Now())
	headers := signed(body, time.Now())
	assert.Equal(t, http.StatusServiceUnavailable, hook(h, body, headers).Code,
		"an outage is retried by Zoom")
	f.signalErr = nil
	assert.Equal(t, http.StatusOK, hook(h, body, headers).Code,
		"a request answered 'retry later' may come again as it was")
	assert.Equal(t, http.StatusUnauthorized, hook(h, body, headers).Code,
		"once delivered, it is a replay")
}

// FuzzZoomWebhook feeds signed random bodies to the webhook: no panic, no 5xx. Run
// it for a bounded time with: go test -fuzz FuzzZoomWebhook -fuzztime 30s
// ./internal/api/
func FuzzZoomWebhook(f *testing.F) {
	now := time.Now()
	for _, seed := range [][]byte{
		joined("81234567890", now),
		[]byte(`{"event":"meeting.ended","event_ts":1,"payload":{"object":{"id":1}}}`),
		[]byte(`{"event":"endpoint.url_validation","payload":{"plainToken":"x"}}`),
		[]byte(`{"event":"meeting.participant_joined","payload":{"object":` +
			`{"id":"1","participant":{}}}}`),
		[]byte(`{"event":"recording.completed","payload":{"object":{"id":1e400}}}`),
		[]byte(`[]`), []byte(`null`), []byte(``), []byte(`{"payload":{"object":7}}`),
	} {
		f.Add(seed)
	}
	fv := &fakeVisits{}
	h, _ := visitServer(f, fv)
	var n int64
	f.Fuzz(func(t *testing.T, body []byte) {
		n++
		// A distinct timestamp per input: the replay guard is not what is tested here.
		w := hook(h, body, signed(body, now.Add(time.Duration(n%200)*time.Second)))
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.String())
		}
	})
}

// BenchmarkWebhookAck measures webhook-to-ack latency over HTTP: signature check,
// parse, and the hand-off to the engine (an in-memory signaller here; the
// integration package measures it against a real Temporal). It prints p50 and p99.
func BenchmarkWebhookAck(b *testing.B) {
	f := &fakeVisits{}
	h, _ := visitServer(b, f)
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()
	const events = 5000
	bodies := make([][]byte, events)
	for i := range bodies {
		bodies[i] = joined("81234567890", time.Now().Add(time.Duration(i)*time.Millisecond))
	}
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		lat = lat[:0]
		for _, body := range bodies {
			ts, sig := sign(webhookSecret, time.Now().Unix(), body)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/zoom",
				bytes.NewReader(body))
			req.Header.Set("x-zm-request-timestamp", ts)
			req.Header.Set("x-zm-signature", sig)
			began := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			lat = append(lat, time.Since(began))
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
	fmt.Printf("webhook-to-ack over %d events: p50 %v, p99 %v\n", events, p50, p99)
}

func TestRescheduleAndCancelRoutes(t *testing.T) {
	f := &fakeVisits{}
	h, _ := visitServer(t, f)
	do := func(method, path, body string, key bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if key {
			req.Header.Set("X-Api-Key", testKey)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	id := "/sessions/SESSION-1730851234567-a3f7k2"

	assert.Equal(t, http.StatusUnauthorized, do(http.MethodPost, id+"/cancel", "", false).Code)

	w := do(http.MethodPost, id+"/reschedule",
		`{"scheduled_time":"tomorrow","duration_minutes":500}`, true)
	require.Equal(t, http.StatusBadRequest, w.Code)
	var body struct {
		Problems []string `json:"validation_errors"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Len(t, body.Problems, 2, "every problem at once: %v", body.Problems)

	soon := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	w = do(http.MethodPost, id+"/reschedule",
		`{"scheduled_time":"`+soon+`","duration_minutes":"45"}`, true)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, []string{"duration_minutes has the wrong type"}, body.Problems)
	w = do(http.MethodPost, id+"/reschedule",
		`{"x":"`+strings.Repeat("a", api.MaxBodyBytes)+`"}`, true)
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	w = do(http.MethodPost, id+"/cancel", `{"reason":123}`, true)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, []string{"reason has the wrong type"}, body.Problems)

	f.changeErr = &api.ChangeError{Problems: []string{"the session is ENDED"}}
	w = do(http.MethodPost, id+"/reschedule", fmt.Sprintf(`{"scheduled_time":%q}`,
		time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)), true)
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Contains(t, w.Body.String(), "the session is ENDED")

	f.changeErr = nil
	f.change = &workflows.State{SessionID: "SESSION-1730851234567-a3f7k2",
		BookingID: "B-1", Status: workflows.StatusCancelled, MeetingID: "8123"}
	w = do(http.MethodPost, id+"/cancel", `{"reason":"patient"}`, true)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var ok struct {
		Data map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &ok))
	for _, k := range []string{"session_id", "booking_id", "status", "meeting_id",
		"attendance", "billable_minutes", "total_wait_seconds"} {
		assert.Contains(t, ok.Data, k)
	}
	assert.Equal(t, "CANCELLED", ok.Data["status"])

	w = do(http.MethodPost, id+"/cancel", `{"reason":"bored"}`, true)
	assert.Equal(t, http.StatusBadRequest, w.Code)

	// By booking id, for a cancel before the session exists.
	w = do(http.MethodPost, "/bookings/BOOK-42/cancel", ``, true)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, f.cancelled, "booking:BOOK-42")
}

func TestWaitingRoomRoute(t *testing.T) {
	since := time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC)
	f := &fakeVisits{room: []visits.Waiting{{SessionID: "S-1", Patient: "S*** J***",
		WaitingSince: since, WaitedSeconds: 120, EstimatedWaitSeconds: 600, Position: 1}}}
	h, _ := visitServer(t, f)
	req := httptest.NewRequest(http.MethodGet,
		"/providers/dr.smith@clinic.example/waiting-room", nil)
	req.Header.Set("X-Api-Key", testKey)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), workflows.ProviderKey("dr.smith@clinic.example"))
	assert.Contains(t, w.Body.String(), `"estimated_wait_seconds":600`)
	assert.NotContains(t, w.Body.String(), "dr.smith")
}

func TestZoomWebhookTakesLargeRecordingEvents(t *testing.T) {
	f := &fakeVisits{}
	h, _ := visitServer(t, f)
	files := strings.Repeat(`{"id":"f","file_type":"MP4","download_url":"https://x"},`, 2000)
	body := fmt.Appendf(nil, `{"event":"recording.completed","event_ts":%d,"payload":{
"object":{"id":81234567890,"uuid":"u","host_id":"H","recording_files":[%s{}]}}}`,
		time.Now().UnixMilli(), files)
	require.Greater(t, len(body), api.MaxBodyBytes, "bigger than the API's usual cap")
	w := hook(h, body, signed(body, time.Now()))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, 1, f.count())
	assert.Equal(t, workflows.EventRecordingComplete, f.signals[0].Type)
}

func TestRecordingCompletedKeepsIdentityWithoutTokens(t *testing.T) {
	f := &fakeVisits{}
	h, logs := visitServer(t, f)
	at := time.Date(2030, 1, 2, 16, 0, 0, 0, time.UTC)
	body := fmt.Appendf(nil, `{"event":"recording.completed","event_ts":%d,
"payload":{"account_id":"acc","object":{"id":81234567890,"uuid":"/ab//cd==",
"host_id":"H","host_email":"dr.smith@clinic.example","topic":"Telehealth session S",
"password":"rec-pass-1","recording_play_passcode":"play-pass-2",
"download_access_token":"dat-secret-3",
"recording_files":[{"id":"file-1","meeting_id":"/ab//cd==","file_type":"MP4",
"file_size":264583,"recording_type":"shared_screen_with_speaker_view",
"play_url":"https://zoom.us/rec/play/p1?pwd=play-pass-2",
"download_url":"https://zoom.us/rec/download/d1?access_token=qt-secret-4#frag"},
{"id":"file-2","file_type":"M4A","file_size":1024,"recording_type":"audio_only",
"download_url":"https://zoom.us/rec/download/d2"}]}},
"download_token":"dt-secret-5"}`, at.UnixMilli())
	w := hook(h, body, signed(body, time.Now()))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, 1, f.count())
	e := f.signals[0]
	require.NotNil(t, e.Recording)
	rec := *e.Recording
	assert.Equal(t, workflows.RecordingID("zoom", "/ab//cd=="), rec.ID)
	assert.Equal(t, "/ab//cd==", rec.MeetingUUID)
	assert.Equal(t, "81234567890", rec.MeetingID)
	assert.Equal(t, at, rec.CompletedAt)
	assert.Equal(t, []workflows.RecordingFile{
		{ID: "file-1", FileType: "MP4", RecordingType: "shared_screen_with_speaker_view",
			Size: 264583, DownloadURL: "https://zoom.us/rec/download/d1"},
		{ID: "file-2", FileType: "M4A", RecordingType: "audio_only", Size: 1024,
			DownloadURL: "https://zoom.us/rec/download/d2"},
	}, rec.Files)

	sent, err := json.Marshal(e)
	require.NoError(t, err)
	for _, secret := range []string{"rec-pass-1", "play-pass-2", "dat-secret-3",
		"qt-secret-4", "dt-secret-5", "dr.smith"} {
		assert.NotContains(t, string(sent), secret, "token in the signal")
		assert.NotContains(t, logs.String(), secret, "token in the logs")
	}
}

// fakeLate is a fakeVisits whose sessions have all closed, and that starts late
// recordings' retentions.
type fakeLate struct {
	fakeVisits
	lateErr error
	late    []workflows.RetentionInput
}

func (f *fakeLate) StartLateRetention(_ context.Context, rec workflows.Recording,
	retain time.Duration) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lateErr != nil {
		return "", f.lateErr
	}
	f.late = append(f.late, workflows.RetentionInput{Recording: rec, SessionID: "S",
		Retain: retain})
	return "S", nil
}

func recordingCompleted(at time.Time) []byte {
	return fmt.Appendf(nil, `{"event":"recording.completed","event_ts":%d,
"payload":{"account_id":"acc","object":{"id":81234567890,"uuid":"/ab//cd==",
"host_id":"H","topic":"Telehealth session S","recording_files":[{"id":"file-1",
"file_type":"MP4","file_size":10,
"download_url":"https://zoom.us/rec/download/d1?access_token=qt-secret-4"}]}},
"download_token":"dt-secret-5"}`, at.UnixMilli())
}

func TestLateRecordingCompletedStartsItsRetention(t *testing.T) {
	f := &fakeLate{fakeVisits: fakeVisits{signalErr: api.ErrUnknownMeeting}}
	var logs bytes.Buffer
	h, err := api.New(api.Config{
		APIKeys: []string{testKey}, CreateWait: time.Second, DefaultDuration: 30,
		ZoomWebhookSecret: webhookSecret,
		Policy:            workflows.Policy{RecordingRetention: 90 * 24 * time.Hour},
	}, f, slog.New(slog.NewJSONHandler(&logs, nil)))
	require.NoError(t, err)

	// Temporal does not answer: the platform is asked to retry, and may.
	f.lateErr = errors.New("frontend unavailable")
	body := recordingCompleted(time.Now())
	headers := signed(body, time.Now())
	w := hook(h, body, headers)
	require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	require.Empty(t, f.late)

	f.lateErr = nil
	w = hook(h, body, headers)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "retention started")
	require.Len(t, f.late, 1)
	in := f.late[0]
	assert.Equal(t, workflows.RecordingID("zoom", "/ab//cd=="), in.Recording.ID)
	assert.Equal(t, "81234567890", in.Recording.MeetingID)
	assert.Equal(t, 90*24*time.Hour, in.Retain, "the configured retention")
	assert.Equal(t, "https://zoom.us/rec/download/d1", in.Recording.Files[0].DownloadURL)
	sent, err := json.Marshal(in)
	require.NoError(t, err)
	for _, secret := range []string{"qt-secret-4", "dt-secret-5"} {
		assert.NotContains(t, string(sent), secret, "token in the retention")
		assert.NotContains(t, logs.String(), secret, "token in the logs")
	}

	// No session, open or closed, has the meeting: acknowledged, nothing started.
	f.lateErr = api.ErrNotIndexed
	body = recordingCompleted(time.Now().Add(time.Second))
	w = hook(h, body, signed(body, time.Now()))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "unknown meeting")

	// Other events for a closed session start nothing.
	f.lateErr = nil
	body = joined("81234567890", time.Now())
	w = hook(h, body, signed(body, time.Now()))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "unknown meeting")
	assert.Len(t, f.late, 1)
}
