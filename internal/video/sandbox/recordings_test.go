package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// hook receives the sandbox's events, checks their signature and keeps them.
type hook struct {
	mu     sync.Mutex
	events []map[string]any
}

func startHook(t *testing.T, secret string) (*hook, string) {
	t.Helper()
	h := &hook{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("x-zm-request-timestamp")
		if r.Header.Get("x-zm-signature") != Sign(secret, ts, body) {
			t.Errorf("event without a valid signature: %s", body)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("event not JSON: %v", err)
		}
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL
}

// named returns the events of one type.
func (h *hook) named(event string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for _, e := range h.events {
		if e["event"] == event {
			out = append(out, e)
		}
	}
	return out
}

// download GETs a recording file; token goes in the access_token query when query.
func download(t *testing.T, link, token string, query bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	if query {
		req.URL.RawQuery = url.Values{"access_token": {token}}.Encode()
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPlayedMeetingIsRecorded(t *testing.T) {
	h, hookURL := startHook(t, "hook-secret")
	s, srv := start(t, Options{WebhookURL: hookURL, WebhookSecret: "hook-secret"})
	tok := token(t, srv)
	m := create(t, srv, tok, meetingBody("Telehealth session s-1",
		time.Now().Add(time.Hour)))
	id := idOf(m)
	ctx := context.Background()

	host := &Person{UserName: "Dr Who", Email: "dr@x.example"}
	if err := s.Start(ctx, id, host); err != nil {
		t.Fatal(err)
	}
	if got := h.named("recording.completed"); len(got) != 0 {
		t.Fatalf("recording.completed before the end: %v", got)
	}
	if err := s.End(ctx, id); err != nil {
		t.Fatal(err)
	}

	got := h.named("recording.completed")
	if len(got) != 1 {
		t.Fatalf("recording.completed sent %d times, want 1", len(got))
	}
	ev := got[0]
	started := h.named("meeting.started")[0]["payload"].(map[string]any)["object"]
	instance := started.(map[string]any)["uuid"].(string)
	dlToken, _ := ev["download_token"].(string)
	if dlToken == "" {
		t.Fatal("no download_token beside the payload")
	}
	obj := ev["payload"].(map[string]any)["object"].(map[string]any)
	if obj["uuid"] != instance || idOf(obj) != id {
		t.Fatalf("object %v is not the instance %s of meeting %s", obj, instance, id)
	}
	if obj["topic"] != "Telehealth session s-1" {
		t.Errorf("topic %v", obj["topic"])
	}
	files := obj["recording_files"].([]any)
	if len(files) != 2 || obj["recording_count"] != float64(2) {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		f := f.(map[string]any)
		for _, k := range []string{"id", "meeting_id", "file_type", "download_url",
			"status", "recording_start", "recording_end", "recording_type"} {
			if s, _ := f[k].(string); s == "" {
				t.Errorf("file without %s: %v", k, f)
			}
		}
		if f["status"] != "completed" || f["meeting_id"] != instance {
			t.Errorf("file %v", f)
		}
		for _, k := range []string{"recording_start", "recording_end"} {
			if _, err := time.Parse(time.RFC3339, f[k].(string)); err != nil {
				t.Errorf("%s: %v", k, err)
			}
		}
		if !strings.HasPrefix(f["download_url"].(string), srv.URL+"/rec/download/") {
			t.Errorf("download_url %v not on the sandbox %s", f["download_url"], srv.URL)
		}
	}
	if got := s.RecordedInstances(id); len(got) != 1 || got[0] != instance {
		t.Fatalf("recorded instances %v, want [%s]", got, instance)
	}

	// The download: with the event's token or an API token, and nothing else.
	link := files[0].(map[string]any)["download_url"].(string)
	for _, c := range []struct {
		name, token string
		query       bool
		want        int
	}{
		{"download token in the query", dlToken, true, http.StatusOK},
		{"download token as bearer", dlToken, false, http.StatusOK},
		{"API token", tok, false, http.StatusOK},
		{"no token", "", false, http.StatusUnauthorized},
		{"wrong token", "not-the-token", true, http.StatusUnauthorized},
	} {
		if status, body := download(t, link, c.token, c.query); status != c.want {
			t.Errorf("%s: status %d (%s), want %d", c.name, status, body, c.want)
		}
	}
	if status, _ := download(t, srv.URL+"/rec/download/nope", tok, false); status !=
		http.StatusNotFound {
		t.Errorf("unknown file: status %d", status)
	}

	// Deleted for good, once: then gone for download and delete alike.
	seg := url.PathEscape(instance)
	if strings.HasPrefix(instance, "/") || strings.Contains(instance, "//") {
		seg = url.PathEscape(seg) // escaped twice, as Zoom asks
	}
	del := srv.URL + "/v2/meetings/" + seg + "/recordings?action=delete"
	if status, _, out := call(t, http.MethodDelete, del, tok, nil); status !=
		http.StatusNoContent {
		t.Fatalf("delete: status %d: %v", status, out)
	}
	if status, _, _ := call(t, http.MethodDelete, del, tok, nil); status !=
		http.StatusNotFound {
		t.Errorf("second delete: status %d, want 404", status)
	}
	if n := s.RecordingDeletes(instance); n != 1 {
		t.Errorf("deletes seen %d, want 1", n)
	}
	if exists, how := s.Recording(instance); exists || how != "delete" {
		t.Errorf("after delete: exists %v, how %q", exists, how)
	}
	if status, _ := download(t, link, dlToken, true); status != http.StatusNotFound {
		t.Errorf("download after delete: status %d, want 404", status)
	}
}

func TestUnrecordedMeetingsSendNoRecording(t *testing.T) {
	h, hookURL := startHook(t, "hook-secret")
	s, srv := start(t, Options{WebhookURL: hookURL, WebhookSecret: "hook-secret"})
	tok := token(t, srv)
	ctx := context.Background()

	// A meeting without cloud recording, played through.
	body := meetingBody("Telehealth session s-2", time.Now().Add(time.Hour))
	body["settings"] = map[string]any{"waiting_room": true, "auto_recording": "none"}
	plain := idOf(create(t, srv, tok, body))
	if err := s.Start(ctx, plain, &Person{UserName: "H"}); err != nil {
		t.Fatal(err)
	}
	if err := s.End(ctx, plain); err != nil {
		t.Fatal(err)
	}

	// A recorded meeting the host never started: a guest waited, then it ended.
	never := idOf(create(t, srv, tok, meetingBody("Telehealth session s-3",
		time.Now().Add(time.Hour))))
	if err := s.Wait(ctx, never, &Person{UserName: "P"}); err != nil {
		t.Fatal(err)
	}
	if err := s.End(ctx, never); err != nil {
		t.Fatal(err)
	}

	if got := h.named("meeting.ended"); len(got) != 2 {
		t.Fatalf("meeting.ended sent %d times, want 2", len(got))
	}
	if got := h.named("recording.completed"); len(got) != 0 {
		t.Fatalf("recording.completed sent: %v", got)
	}
	if len(s.RecordedInstances(plain))+len(s.RecordedInstances(never)) != 0 {
		t.Fatal("a recording was kept")
	}
}
