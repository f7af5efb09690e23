package video

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/telehealth/sessions/internal/video/sandbox"
)

func TestUpdateMeeting(t *testing.T) {
	sb, tp, cfg := setup(t, sandbox.Options{})
	z := NewZoom(cfg)
	m, err := z.CreateMeeting(context.Background(), request("s-1"))
	if err != nil {
		t.Fatal(err)
	}
	later := testStart.Add(26 * time.Hour)
	req := MeetingRequest{SessionID: "s-1", Start: later, DurationMinutes: 45,
		Timezone: "America/New_York"}
	if err := z.UpdateMeeting(context.Background(), m.ID, req); err != nil {
		t.Fatalf("UpdateMeeting: %v", err)
	}
	patches := tp.calls(http.MethodPatch, "/v2/meetings/"+m.ID)
	if len(patches) != 1 || patches[0].status != http.StatusNoContent {
		t.Fatalf("patch calls = %+v, want one answered 204", patches)
	}
	var sent map[string]any
	if err := json.Unmarshal(patches[0].reqBody, &sent); err != nil {
		t.Fatal(err)
	}
	if sent["start_time"] != later.UTC().Format("2006-01-02T15:04:05Z") ||
		sent["duration"] != float64(45) {
		t.Errorf("patch body = %v", sent)
	}
	// The sandbox now has the new time.
	gets := 0
	_, err = z.CreateMeeting(context.Background(), MeetingRequest{SessionID: "s-1",
		Start: later, DurationMinutes: 45, MayExist: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tp.calls(http.MethodGet, "/v2/meetings/"+m.ID) {
		var got map[string]any
		_ = json.Unmarshal(e.reply, &got)
		if got["start_time"] == later.UTC().Format("2006-01-02T15:04:05Z") &&
			got["duration"] == float64(45) {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("meeting not moved in the sandbox")
	}
	if len(sb.MeetingIDs()) != 1 {
		t.Errorf("meetings = %v, want the one", sb.MeetingIDs())
	}
}

func TestEndAndDeleteMeeting(t *testing.T) {
	sb, tp, cfg := setup(t, sandbox.Options{})
	z := NewZoom(cfg)
	m, err := z.CreateMeeting(context.Background(), request("s-2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := z.EndMeeting(context.Background(), m.ID); err != nil {
		t.Fatalf("EndMeeting: %v", err)
	}
	ends := tp.calls(http.MethodPut, "/v2/meetings/"+m.ID+"/status")
	if len(ends) != 1 || string(ends[0].reqBody) != `{"action":"end"}` {
		t.Fatalf("end calls = %+v", ends)
	}
	if err := z.DeleteMeeting(context.Background(), m.ID); err != nil {
		t.Fatalf("DeleteMeeting: %v", err)
	}
	if len(sb.MeetingIDs()) != 0 {
		t.Errorf("meeting still there: %v", sb.MeetingIDs())
	}
	// Gone already: deleting or ending again is no failure.
	if err := z.DeleteMeeting(context.Background(), m.ID); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if err := z.EndMeeting(context.Background(), m.ID); err != nil {
		t.Errorf("end of a deleted meeting: %v", err)
	}
}

func TestMeetingChangeErrors(t *testing.T) {
	sb, _, cfg := setup(t, sandbox.Options{})
	z := NewZoom(cfg)
	m, err := z.CreateMeeting(context.Background(), request("s-3"))
	if err != nil {
		t.Fatal(err)
	}
	if err := z.DeleteMeeting(context.Background(), "../users/x"); err == nil {
		t.Error("a path for a meeting id was accepted")
	}
	sb.InjectNext(sandbox.UpdateMeeting, 1, sandbox.Fault{Status: 429, Code: 429,
		RetryAfter: "7"})
	err = z.UpdateMeeting(context.Background(), m.ID, request("s-3"))
	var e *Error
	if !errors.As(err, &e) || !e.Retryable || e.RetryAfter != 7*time.Second {
		t.Errorf("429: got %#v, want retryable after 7s", err)
	}
	sb.InjectNext(sandbox.DeleteMeeting, 1, sandbox.Fault{Status: 400, Code: 3000})
	err = z.DeleteMeeting(context.Background(), m.ID)
	if !errors.As(err, &e) || e.Retryable {
		t.Errorf("400: got %#v, want permanent", err)
	}
	sb.InjectNext(sandbox.MeetingStatus, 1, sandbox.Fault{Status: 503})
	err = z.EndMeeting(context.Background(), m.ID)
	if !errors.As(err, &e) || !e.Retryable {
		t.Errorf("503: got %#v, want retryable", err)
	}
}

// TestSandboxSignsEvents checks the sandbox's events against Zoom's signature scheme,
// computed here independently.
func TestSandboxSignsEvents(t *testing.T) {
	type got struct {
		header http.Header
		body   []byte
	}
	gotc := make(chan got, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotc <- got{r.Header.Clone(), b}
	}))
	t.Cleanup(hook.Close)
	sb, _, cfg := setup(t, sandbox.Options{WebhookURL: hook.URL, WebhookSecret: "tok"})
	m, err := NewZoom(cfg).CreateMeeting(context.Background(), request("s-4"))
	if err != nil {
		t.Fatal(err)
	}
	patient := &sandbox.Person{UserName: "Pat", Email: "p@example.com", CustomerKey: "k1"}
	if err := sb.Wait(context.Background(), m.ID, patient); err != nil {
		t.Fatal(err)
	}
	g := <-gotc
	ts := g.header.Get("X-Zm-Request-Timestamp")
	if n, err := strconv.ParseInt(ts, 10, 64); err != nil ||
		time.Since(time.Unix(n, 0)).Abs() > time.Minute {
		t.Fatalf("timestamp %q", ts)
	}
	if want := sandbox.Sign("tok", ts, g.body); g.header.Get("X-Zm-Signature") != want {
		t.Errorf("signature %q, want %q", g.header.Get("X-Zm-Signature"), want)
	}
	var ev struct {
		Event   string `json:"event"`
		Payload struct {
			Object struct {
				ID          any `json:"id"`
				Participant struct {
					CustomerKey string `json:"customer_key"`
					DateTime    string `json:"date_time"`
				} `json:"participant"`
			} `json:"object"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(g.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Event != "meeting.participant_joined_waiting_room" ||
		ev.Payload.Object.ID != m.ID || ev.Payload.Object.Participant.CustomerKey != "k1" ||
		ev.Payload.Object.Participant.DateTime == "" {
		t.Errorf("event = %s", g.body)
	}
}
