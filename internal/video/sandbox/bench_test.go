package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkCreate measures one meeting create, with the state file on, while the
// sandbox already holds 100 or 2 000 meetings: the cost of a create must not grow with
// the meetings kept. Each timed create is deleted again, untimed, so the count stays
// put.
//
//	go test -run '^$' -bench Create -benchmem ./internal/video/sandbox/
func BenchmarkCreate(b *testing.B) {
	for _, existing := range []int{100, 2000} {
		b.Run(fmt.Sprintf("existing=%d", existing), func(b *testing.B) {
			benchCreate(b, existing)
		})
	}
}

func benchCreate(b *testing.B, existing int) {
	opts := creds
	opts.StatePath = filepath.Join(b.TempDir(), "meetings.json")
	s, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	tok := benchToken(b, s)
	body, err := json.Marshal(meetingBody("t", time.Now().Add(time.Hour)))
	if err != nil {
		b.Fatal(err)
	}
	for range existing {
		benchCall(b, s, http.MethodPost, "/v2/users/h/meetings", tok, body, 201)
	}

	b.ReportAllocs()
	for b.Loop() {
		rec := benchCall(b, s, http.MethodPost, "/v2/users/h/meetings", tok, body, 201)

		b.StopTimer()
		var m struct{ ID int64 }
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			b.Fatal(err)
		}
		benchCall(b, s, http.MethodDelete, fmt.Sprint("/v2/meetings/", m.ID), tok, nil,
			204)
		b.StartTimer()
	}

	if got := len(s.MeetingIDs()); got != existing {
		b.Fatalf("meetings %d after the run, want %d", got, existing)
	}
}

// benchToken mints a token through the handler, without a listener.
func benchToken(b *testing.B, s *Server) string {
	req := httptest.NewRequest(http.MethodPost, "/oauth/token",
		bytes.NewReader([]byte("grant_type=account_credentials&account_id="+
			creds.AccountID)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(creds.ClientID, creds.ClientSecret)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != 200 {
		b.Fatalf("token: status %d: %s", rec.Code, rec.Body)
	}
	return out.AccessToken
}

// benchCall serves one request through the handler and checks its status.
func benchCall(b *testing.B, s *Server, method, path, tok string, body []byte,
	want int) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: status %d, want %d: %s", method, path, rec.Code, want, rec.Body)
	}
	return rec
}
