package video

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/telehealth/sessions/internal/video/sandbox"
)

// wire records the escaped path, query and auth header of each API call.
type wire struct {
	next http.Handler
	mu   sync.Mutex
	seen []string
}

func (w *wire) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v2/") {
		w.mu.Lock()
		auth, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.seen = append(w.seen, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery+
			" bearer="+map[bool]string{true: "yes", false: "no"}[auth != ""])
		w.mu.Unlock()
	}
	w.next.ServeHTTP(rw, r)
}

func recordingClient(t *testing.T) (*Zoom, *sandbox.Server, *wire) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{AccountID: testAccount, ClientID: testClient,
		ClientSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	w := &wire{next: sb}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	z := NewZoom(ZoomConfig{APIURL: srv.URL + "/v2", OAuthURL: srv.URL + "/oauth/token",
		AccountID: testAccount, ClientID: testClient, ClientSecret: testSecret,
		UserID: testHost})
	return z, sb, w
}

func TestDeleteRecordingWireFormat(t *testing.T) {
	cases := []struct {
		uuid, path string
	}{
		{"4444AAAiAAAAAiAiAiiAii==", "/v2/meetings/4444AAAiAAAAAiAiAiiAii==/recordings"},
		{"ab/cd+ef==", "/v2/meetings/ab%2Fcd+ef==/recordings"},
		{"/ajXp112QmuoKj4854875==", "/v2/meetings/%252FajXp112QmuoKj4854875==/recordings"},
		{"ab//cd==", "/v2/meetings/ab%252F%252Fcd==/recordings"},
	}
	for _, c := range cases {
		t.Run(c.uuid, func(t *testing.T) {
			z, sb, w := recordingClient(t)
			sb.AddRecording(c.uuid)
			if err := z.DeleteRecording(context.Background(), c.uuid); err != nil {
				t.Fatalf("delete: %v", err)
			}
			want := "DELETE " + c.path + "?action=delete bearer=yes"
			if len(w.seen) != 1 || w.seen[0] != want {
				t.Fatalf("calls %q, want %q", w.seen, want)
			}
			if exists, how := sb.Recording(c.uuid); exists || how != "delete" {
				t.Fatalf("recording exists=%v deleted as %q, want deleted for good",
					exists, how)
			}
		})
	}
}

func TestDeleteRecordingGoneCountsAsDeleted(t *testing.T) {
	z, sb, _ := recordingClient(t)
	if err := z.DeleteRecording(context.Background(), "never-recorded=="); err != nil {
		t.Fatalf("404 not taken for deleted: %v", err)
	}
	sb.AddRecording("twice==")
	for i := range 2 {
		if err := z.DeleteRecording(context.Background(), "twice=="); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
}

func TestDeleteRecordingErrors(t *testing.T) {
	z, sb, w := recordingClient(t)
	sb.AddRecording("x==")
	for _, bad := range []string{"", "a b", "../../users/me", strings.Repeat("a", 65)} {
		err := z.DeleteRecording(context.Background(), bad)
		if e, ok := errors.AsType[*Error](err); !ok || e.Retryable {
			t.Errorf("%q: %v, want a permanent error", bad, err)
		}
	}
	if len(w.seen) != 0 {
		t.Fatalf("bad uuids reached the platform: %q", w.seen)
	}

	sb.InjectNext(sandbox.DeleteRecordings, 1, sandbox.Fault{Status: 429,
		RetryAfter: "7"})
	err := z.DeleteRecording(context.Background(), "x==")
	if e, ok := errors.AsType[*Error](err); !ok || !e.Retryable || e.RetryAfter == 0 {
		t.Fatalf("429: %v, want retryable with Retry-After", err)
	}
	sb.InjectNext(sandbox.DeleteRecordings, 1, sandbox.Fault{Status: 403, Code: 200,
		Message: "No permission."})
	err = z.DeleteRecording(context.Background(), "x==")
	if e, ok := errors.AsType[*Error](err); !ok || e.Retryable || e.Status != 403 {
		t.Fatalf("403: %v, want permanent", err)
	}
	if exists, _ := sb.Recording("x=="); !exists {
		t.Fatal("recording gone after failed calls")
	}
}

func TestOtherPlatformsDoNotOfferRecordingDeletion(t *testing.T) {
	for _, p := range []Platform{&Doxy{}, &Meet{}} {
		err := p.DeleteRecording(context.Background(), "x==")
		if e, ok := errors.AsType[*Error](err); !ok || e.Retryable {
			t.Errorf("%T: %v, want a permanent error", p, err)
		}
	}
}
