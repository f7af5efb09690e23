package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/audit"
	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/launch"
	"github.com/telehealth/sessions/internal/ratelimit"
	"github.com/telehealth/sessions/workflows"
)

func guarded(t *testing.T, f api.Sessions, g api.Guard, proxies []string,
	keys ...string) http.Handler {
	t.Helper()
	h, err := api.New(api.Config{
		APIKeys: keys, TrustedProxies: proxies, CreateWait: time.Second,
		DefaultDuration: 30, Guard: g,
	}, f, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return h
}

func send(h http.Handler, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "192.0.2.1:4242"
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	h := guarded(t, &fakeSessions{links: links},
		api.Guard{Limiter: ratelimit.NewLocal(0.5, 2)}, nil)
	for range 2 {
		assert.Equal(t, http.StatusOK, send(h, "POST", "/webhook/telehealth-session",
			validBody()).Code)
	}
	w := send(h, "POST", "/webhook/telehealth-session", validBody())
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	after, err := strconv.Atoi(w.Header().Get("Retry-After"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, after, 1)
	assert.LessOrEqual(t, after, 2)
}

// TestRateLimitIsSharedThroughRedis: two API replicas on this machine's Redis drain
// one bucket per client.
func TestRateLimitIsSharedThroughRedis(t *testing.T) {
	prefix := fmt.Sprintf("test-api-%d:", time.Now().UnixNano())
	replica := func() http.Handler {
		l, err := ratelimit.NewRedis("redis://127.0.0.1:6379/0", 0.5, 3, prefix)
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		return guarded(t, &fakeSessions{links: links}, api.Guard{Limiter: l}, nil)
	}
	a, b := replica(), replica()
	for _, h := range []http.Handler{a, b, a} {
		assert.Equal(t, http.StatusOK, send(h, "GET", "/sessions/"+links.SessionID, "").Code)
	}
	w := send(b, "GET", "/sessions/"+links.SessionID, "")
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
}

func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	g := api.Guard{IPAllowlist: allow}
	xff := []string{"X-Forwarded-For", "10.1.2.3"}

	untrusted := guarded(t, &fakeSessions{links: links}, g, nil)
	w := send(untrusted, "GET", "/sessions/"+links.SessionID, "", xff...)
	assert.Equal(t, http.StatusForbidden, w.Code, "a client cannot claim an address")

	trusted := guarded(t, &fakeSessions{links: links}, g, []string{"192.0.2.1"})
	w = send(trusted, "GET", "/sessions/"+links.SessionID, "", xff...)
	assert.Equal(t, http.StatusOK, w.Code)
	w = send(trusted, "GET", "/sessions/"+links.SessionID, "",
		"X-Forwarded-For", "203.0.113.9")
	assert.Equal(t, http.StatusForbidden, w.Code)
}

func TestCORSAnswersOnlyAllowedOrigins(t *testing.T) {
	h := guarded(t, &fakeSessions{links: links},
		api.Guard{AllowedOrigins: []string{"https://booking.example"}}, nil)
	w := send(h, "GET", "/sessions/"+links.SessionID, "", "Origin", "https://booking.example")
	assert.Equal(t, "https://booking.example", w.Header().Get("Access-Control-Allow-Origin"))
	w = send(h, "GET", "/sessions/"+links.SessionID, "", "Origin", "https://evil.example")
	assert.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))

	w = send(h, "OPTIONS", "/webhook/telehealth-session", "",
		"Origin", "https://booking.example", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type,x-api-key")
	assert.Equal(t, "https://booking.example", w.Header().Get("Access-Control-Allow-Origin"))
}

func TestWebhookSignature(t *testing.T) {
	secret := strings.Repeat("s", 32)
	f := &fakeSessions{links: links}
	h := guarded(t, f, api.Guard{WebhookSecret: secret}, nil)
	body := validBody()
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)

	assert.Equal(t, http.StatusUnauthorized,
		send(h, "POST", "/webhook/telehealth-session", body).Code, "unsigned")
	assert.Equal(t, http.StatusUnauthorized, send(h, "POST", "/webhook/telehealth-session",
		body, api.SignatureTimestamp, now,
		api.SignatureHeader, api.Sign("wrong", now, []byte(body))).Code)
	assert.Equal(t, http.StatusUnauthorized, send(h, "POST", "/webhook/telehealth-session",
		body, api.SignatureTimestamp, stale,
		api.SignatureHeader, api.Sign(secret, stale, []byte(body))).Code, "replayed")
	assert.Empty(t, f.got)

	w := send(h, "POST", "/webhook/telehealth-session", body,
		api.SignatureTimestamp, now, api.SignatureHeader, api.Sign(secret, now, []byte(body)))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Len(t, f.got, 1)
}

// meetingSessions answers Get with a scheduled session that has a meeting.
type meetingSessions struct {
	fakeSessions
	status workflows.Status
}

func (m *meetingSessions) Get(_ context.Context, id string) (workflows.State, error) {
	if id != links.SessionID {
		return workflows.State{}, api.ErrNotFound
	}
	return workflows.State{SessionID: id, MeetingID: "812", Status: m.status}, nil
}

type hosts struct{ calls int }

func (h *hosts) HostLink(_ context.Context, meetingID string) (string, error) {
	h.calls++
	return "https://zoom.example/s/" + meetingID + "?zak=fresh", nil
}

func testCodec(t *testing.T) *codec.Codec {
	t.Helper()
	c, err := codec.New(map[string][]byte{"k": bytes.Repeat([]byte{7}, 32)}, "k")
	require.NoError(t, err)
	return c
}

func TestLaunchMintsTheStartLinkAtClick(t *testing.T) {
	links := launch.New("http://api.example", testCodec(t))
	u := links.URL("SESSION-1730851234567-a3f7k2", "812")
	path := strings.TrimPrefix(u, "http://api.example")
	hl := &hosts{}
	s := &meetingSessions{status: workflows.StatusScheduled}
	h := guarded(t, s, api.Guard{Launch: links, Hosts: hl}, nil, testKey)

	w := send(h, "GET", path, "") // no API key: the token is the credential
	assert.Equal(t, http.StatusFound, w.Code, w.Body.String())
	assert.Equal(t, "https://zoom.example/s/812?zak=fresh", w.Header().Get("Location"))
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))

	assert.Equal(t, http.StatusNotFound, send(h, "GET", path+"x", "").Code)
	for _, st := range []workflows.Status{workflows.StatusCompleted,
		workflows.StatusCancelled, workflows.StatusNoShow, workflows.StatusFailed} {
		s.status = st
		assert.Equal(t, http.StatusGone, send(h, "GET", path, "").Code, st)
	}
	s.status = workflows.StatusInProgress
	assert.Equal(t, http.StatusFound, send(h, "GET", path, "").Code)
	assert.Equal(t, 2, hl.calls)
}

func TestAuditRecordsEveryAccessAndVerifies(t *testing.T) {
	l, err := audit.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	links := launch.New("http://api.example", testCodec(t))
	path := strings.TrimPrefix(links.URL("SESSION-1730851234567-a3f7k2", "812"),
		"http://api.example")
	h := guarded(t, &meetingSessions{status: workflows.StatusScheduled},
		api.Guard{Audit: l, Launch: links, Hosts: &hosts{}}, nil, testKey)

	key := []string{"X-Api-Key", testKey}
	send(h, "POST", "/webhook/telehealth-session", "{}", key...)
	send(h, "GET", "/sessions/SESSION-1730851234567-a3f7k2", "", key...)
	send(h, "GET", "/sessions/SESSION-1730851234567-a3f7k2", "") // no key: 401
	send(h, "GET", path, "")
	w := send(h, "GET", "/audit/export?format=csv", "", key...)
	require.Equal(t, http.StatusOK, w.Code)
	send(h, "GET", "/healthz", "")

	var got []audit.Entry
	require.NoError(t, l.Each(t.Context(), func(e audit.Entry) error {
		got = append(got, e)
		return nil
	}))
	require.Len(t, got, 5, "every access but health checks")
	want := []struct{ action, outcome string }{
		{"create", "400"}, {"view", "200"}, {"view", "401"}, {"launch", "302"},
		{"export", "200"},
	}
	for i, e := range got {
		assert.Equal(t, want[i].action, e.Action)
		assert.Equal(t, want[i].outcome, e.Outcome)
		assert.Equal(t, "192.0.2.1", e.ClientIP)
	}
	assert.Regexp(t, `^key-[0-9a-f]{16}$`, got[1].Actor)
	assert.NotContains(t, got[1].Actor, testKey)
	assert.Equal(t, "unauthenticated", got[2].Actor)
	assert.Equal(t, "SESSION-1730851234567-a3f7k2", got[3].SessionID)
	assert.Equal(t, "launch-token", got[3].Actor)
	assert.Contains(t, w.Body.String(), "seq,time,actor,client_ip")

	n, err := l.Verify(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 5, n)
}

func TestCodecRouteNeedsAKeyWhenKeysAreOn(t *testing.T) {
	h := guarded(t, &fakeSessions{links: links}, api.Guard{Codec: testCodec(t),
		CodecOrigins: []string{"http://127.0.0.1:8233"}}, nil, testKey)
	body := `{"payloads":[]}`
	assert.Equal(t, http.StatusUnauthorized, send(h, "POST", "/codec/decode", body).Code)
	w := send(h, "POST", "/codec/decode", body, "Authorization", "Bearer "+testKey)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())

	// The Web UI's preflight gets the UI origin, and no other.
	w = send(h, "OPTIONS", "/codec/decode", "", "Origin", "http://127.0.0.1:8233",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers",
		"content-type,x-namespace")
	assert.Equal(t, "http://127.0.0.1:8233", w.Header().Get("Access-Control-Allow-Origin"))
}
