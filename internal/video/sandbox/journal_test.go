package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// restart closes s, as the end of its process would, and serves a new sandbox on the
// same state file.
func restart(t *testing.T, s *Server, path string) (*Server, *httptest.Server) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return start(t, Options{StatePath: path})
}

// lines returns the state file's lines.
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func idOf(m map[string]any) string { return fmt.Sprintf("%.0f", m["id"]) }

func TestStateReplaysChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.json")
	s, srv := start(t, Options{StatePath: path})
	tok := token(t, srv)
	var ids []string
	for i := range 3 {
		m := create(t, srv, tok, meetingBody(fmt.Sprint("t", i), time.Now().Add(time.Hour)))
		ids = append(ids, idOf(m))
	}
	moved := time.Now().Add(48 * time.Hour).UTC().Format(zoomTime)
	status, _, out := call(t, http.MethodPatch, srv.URL+"/v2/meetings/"+ids[1], tok,
		map[string]any{"start_time": moved, "duration": 45})
	if status != 204 {
		t.Fatalf("update: status %d: %v", status, out)
	}
	if status, _, out := call(t, http.MethodDelete, srv.URL+"/v2/meetings/"+ids[2], tok,
		nil); status != 204 {
		t.Fatalf("delete: status %d: %v", status, out)
	}
	// One line per change, whatever is already kept.
	got := lines(t, path)
	var ops []string
	for _, l := range got {
		var e entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		ops = append(ops, e.Op)
	}
	if want := []string{"create", "create", "create", "update", "delete"}; !slices.Equal(
		ops, want) {
		t.Errorf("journal ops %v, want %v", ops, want)
	}

	// ReadTopics replays the journal as it is, and leaves it so.
	topics, err := ReadTopics(path)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Sort(topics); !slices.Equal(topics, []string{"t0", "t1"}) {
		t.Errorf("ReadTopics %v, want [t0 t1]", topics)
	}
	if n := len(lines(t, path)); n != 5 {
		t.Errorf("journal has %d lines after ReadTopics, want 5", n)
	}

	s2, srv2 := restart(t, s, path)
	if got, want := s2.MeetingIDs(), slices.Sorted(slices.Values(ids[:2])); !slices.Equal(
		got, want) {
		t.Fatalf("after restart meetings %v, want %v", got, want)
	}
	tok2 := token(t, srv2)
	status, _, out = call(t, http.MethodGet, srv2.URL+"/v2/meetings/"+ids[1], tok2, nil)
	if status != 200 || out["start_time"] != moved || out["duration"] != 45.0 ||
		out["topic"] != "t1" {
		t.Errorf("updated meeting after restart: status %d, %v", status, out)
	}
	if status, _, _ := call(t, http.MethodGet, srv2.URL+"/v2/meetings/"+ids[2], tok2,
		nil); status != 404 {
		t.Errorf("deleted meeting after restart: status %d, want 404", status)
	}
	// The restart compacted the journal: one create line per meeting.
	if n := len(lines(t, path)); n != 2 {
		t.Errorf("journal after restart has %d lines, want 2", n)
	}

	// Changes after the restart land after the compacted lines.
	third := idOf(create(t, srv2, tok2, meetingBody("t3", time.Now().Add(time.Hour))))
	s3, _ := restart(t, s2, path)
	want := slices.Sorted(slices.Values([]string{ids[0], ids[1], third}))
	if got := s3.MeetingIDs(); !slices.Equal(got, want) {
		t.Errorf("after second restart meetings %v, want %v", got, want)
	}
}

func TestStateTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.json")
	s, srv := start(t, Options{StatePath: path})
	tok := token(t, srv)
	kept := idOf(create(t, srv, tok, meetingBody("kept", time.Now().Add(time.Hour))))
	torn := idOf(create(t, srv, tok, meetingBody("torn", time.Now().Add(time.Hour))))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A crash in the middle of the last write: the line lacks its end.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	last := bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
	if !strings.Contains(string(b[last:]), torn) {
		t.Fatalf("last line %q is not the second create", b[last:])
	}
	cut := b[:last+(len(b)-last)/2]
	if err := os.WriteFile(path, cut, 0o600); err != nil {
		t.Fatal(err)
	}

	s2, srv2 := start(t, Options{StatePath: path})
	if got := s2.MeetingIDs(); !slices.Equal(got, []string{kept}) {
		t.Fatalf("after a torn last line meetings %v, want [%s]", got, kept)
	}
	// The torn bytes are gone: the next change is a line of its own.
	next := idOf(create(t, srv2, token(t, srv2), meetingBody("next",
		time.Now().Add(time.Hour))))
	s3, _ := restart(t, s2, path)
	want := slices.Sorted(slices.Values([]string{kept, next}))
	if got := s3.MeetingIDs(); !slices.Equal(got, want) {
		t.Errorf("after the next create and a restart meetings %v, want %v", got, want)
	}
}

func TestStateBadLineInTheMiddle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.json")
	s, srv := start(t, Options{StatePath: path})
	tok := token(t, srv)
	for range 2 {
		create(t, srv, tok, meetingBody("t", time.Now().Add(time.Hour)))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	l := lines(t, path)
	bad := l[0] + "\n" + l[0][:20] + "\n" + l[1] + "\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := New(Options{StatePath: path})
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("New with a bad second line: error %v, want one naming line 2", err)
	}
}

func TestStateCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.json")
	s, srv := start(t, Options{StatePath: path})
	tok := token(t, srv)
	var ids []string
	for i := range 5 {
		m := create(t, srv, tok, meetingBody(fmt.Sprint("t", i), time.Now().Add(time.Hour)))
		ids = append(ids, idOf(m))
	}

	// Enough changes to pass the bound: twice the meetings, plus the slack.
	changes := compactSlack + 100
	last := map[string]int{} // meeting id → its last duration
	for i := range changes {
		req := httptest.NewRequest(http.MethodPatch, "/v2/meetings/"+ids[i%5],
			strings.NewReader(fmt.Sprintf(`{"duration":%d}`, i+1)))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 204 {
			t.Fatalf("update %d: status %d: %s", i, rec.Code, rec.Body)
		}
		last[ids[i%5]] = i + 1
	}
	if n := len(lines(t, path)); n >= 5+changes || n > 2*5+compactSlack {
		t.Errorf("journal has %d lines after %d changes to 5 meetings; want it compacted",
			n, 5+changes)
	}

	s2, srv2 := restart(t, s, path)
	if got := s2.MeetingIDs(); !slices.Equal(got, slices.Sorted(slices.Values(ids))) {
		t.Fatalf("after compaction and restart meetings %v, want %v", got, ids)
	}
	tok2 := token(t, srv2)
	for _, id := range ids {
		_, _, out := call(t, http.MethodGet, srv2.URL+"/v2/meetings/"+id, tok2, nil)
		if out["duration"] != float64(last[id]) {
			t.Errorf("meeting %s after compaction: duration %v, want %d", id,
				out["duration"], last[id])
		}
	}
}

func TestStateOlderFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.json")
	old := []record{
		{Owner: "h", Meeting: meeting{ID: 12345678901, Topic: "a", Type: 2, Duration: 30}},
		{Owner: "h", Meeting: meeting{ID: 12345678902, Topic: "b", Type: 2, Duration: 30}},
	}
	b, err := json.MarshalIndent(old, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	s, _ := start(t, Options{StatePath: path})
	want := []string{"12345678901", "12345678902"}
	if got := s.MeetingIDs(); !slices.Equal(got, want) {
		t.Fatalf("from the older format meetings %v, want %v", got, want)
	}
	s2, _ := restart(t, s, path)
	if got := s2.MeetingIDs(); !slices.Equal(got, want) {
		t.Errorf("after rewriting as a journal meetings %v, want %v", got, want)
	}
	if l := lines(t, path); len(l) != 2 || !strings.HasPrefix(l[0], `{"op":"create"`) {
		t.Errorf("file not rewritten as a journal: %q", l)
	}
}

func TestStateFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.json")
	s, srv := start(t, Options{StatePath: path})
	tok := token(t, srv)
	kept := idOf(create(t, srv, tok, meetingBody("kept", time.Now().Add(time.Hour))))

	// The file goes away under the server: the next write fails.
	s.mu.Lock()
	s.state.f.Close()
	s.mu.Unlock()
	status, _, out := call(t, http.MethodPost, srv.URL+"/v2/users/h/meetings", tok,
		meetingBody("lost", time.Now().Add(time.Hour)))
	if status != 500 {
		t.Errorf("create with the file unwritable: status %d: %v, want 500", status, out)
	}
	if got := s.MeetingIDs(); !slices.Equal(got, []string{kept}) {
		t.Errorf("after a failed write meetings %v, want [%s]: nothing half-made", got, kept)
	}

	// The next change rewrites the file first, and is kept.
	next := idOf(create(t, srv, tok, meetingBody("next", time.Now().Add(time.Hour))))
	s2, _ := restart(t, s, path)
	want := slices.Sorted(slices.Values([]string{kept, next}))
	if got := s2.MeetingIDs(); !slices.Equal(got, want) {
		t.Errorf("after recovery and a restart meetings %v, want %v", got, want)
	}
}

func TestClosedServerRefusesChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.json")
	s, srv := start(t, Options{StatePath: path})
	tok := token(t, srv)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	status, _, _ := call(t, http.MethodPost, srv.URL+"/v2/users/h/meetings", tok,
		meetingBody("late", time.Now().Add(time.Hour)))
	if status != 500 || len(s.MeetingIDs()) != 0 {
		t.Errorf("create after Close: status %d, %d meetings; want 500 and none", status,
			len(s.MeetingIDs()))
	}
}
