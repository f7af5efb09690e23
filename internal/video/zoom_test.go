package video

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/video/sandbox"
)

const (
	testAccount = "acct-1"
	testClient  = "client-1"
	testSecret  = "secret-1"
	testHost    = "dr.host@clinic.example"
	createPath  = "/v2/users/" + testHost + "/meetings"
)

var testStart = time.Date(2027, 3, 4, 15, 30, 0, 0, time.FixedZone("EST", -5*3600))

// exchange is one request the client made and the sandbox's answer.
type exchange struct {
	method, path   string
	reqBody, reply []byte
	status         int
}

// tap records what passes between the client and the sandbox.
type tap struct {
	next      http.Handler
	mu        sync.Mutex
	exchanges []exchange
}

func (t *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	t.next.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
	t.mu.Lock()
	defer t.mu.Unlock()
	t.exchanges = append(t.exchanges, exchange{
		method: r.Method, path: r.URL.Path, reqBody: body,
		reply: rec.Body.Bytes(), status: rec.Code,
	})
}

// calls returns the exchanges with the given method and path.
func (t *tap) calls(method, path string) []exchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []exchange
	for _, e := range t.exchanges {
		if e.method == method && e.path == path {
			out = append(out, e)
		}
	}
	return out
}

func (t *tap) mints() int { return len(t.calls(http.MethodPost, "/oauth/token")) }

// setup starts a sandbox behind a tap and returns a client config pointing at it.
func setup(t *testing.T, opts sandbox.Options) (*sandbox.Server, *tap, ZoomConfig) {
	t.Helper()
	opts.AccountID, opts.ClientID, opts.ClientSecret = testAccount, testClient, testSecret
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{next: sb}
	srv := httptest.NewServer(tp)
	t.Cleanup(srv.Close)
	return sb, tp, ZoomConfig{
		APIURL:       srv.URL + "/v2",
		OAuthURL:     srv.URL + "/oauth/token",
		AccountID:    testAccount,
		ClientID:     testClient,
		ClientSecret: testSecret,
		UserID:       testHost,
		HTTPClient:   &http.Client{Timeout: 5 * time.Second},
	}
}

func request(sessionID string) MeetingRequest {
	return MeetingRequest{SessionID: sessionID, Start: testStart, DurationMinutes: 30}
}

func TestCreateMeeting(t *testing.T) {
	sb, tp, cfg := setup(t, sandbox.Options{})
	req := request("s-123")
	req.Timezone = "America/New_York"

	m, err := NewZoom(cfg).CreateMeeting(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateMeeting: %v", err)
	}

	creates := tp.calls(http.MethodPost, createPath)
	if len(creates) != 1 {
		t.Fatalf("create calls = %d, want 1", len(creates))
	}
	var sent map[string]any
	if err := json.Unmarshal(creates[0].reqBody, &sent); err != nil {
		t.Fatal(err)
	}
	pw, _ := sent["password"].(string)
	if !regexp.MustCompile(`^[A-Za-z0-9]{10}$`).MatchString(pw) {
		t.Errorf("password %q: want 10 characters from [A-Za-z0-9]", pw)
	}
	delete(sent, "password")
	want := map[string]any{
		"topic":      "Telehealth session s-123",
		"agenda":     "telehealth-session:s-123",
		"type":       2.0,
		"start_time": "2027-03-04T20:30:00Z",
		"duration":   30.0,
		"timezone":   "America/New_York",
		"settings": map[string]any{
			"host_video":                           true,
			"participant_video":                    true,
			"join_before_host":                     false,
			"waiting_room":                         true,
			"approval_type":                        2.0,
			"encryption_type":                      "enhanced_encryption",
			"meeting_authentication":               true,
			"auto_recording":                       "cloud",
			"watermark":                            true,
			"mute_upon_entry":                      true,
			"use_pmi":                              false,
			"private_meeting":                      true,
			"email_notification":                   false,
			"registrants_email_notification":       false,
			"alternative_hosts_email_notification": false,
			"push_change_to_calendar":              false,
			"auto_start_meeting_summary":           false,
			"auto_start_ai_companion_questions":    false,
		},
	}
	if !reflect.DeepEqual(sent, want) {
		t.Errorf("request body:\n got %v\nwant %v", sent, want)
	}

	var reply struct {
		ID       json.Number `json:"id"`
		JoinURL  string      `json:"join_url"`
		StartURL string      `json:"start_url"`
	}
	if err := json.Unmarshal(creates[0].reply, &reply); err != nil {
		t.Fatal(err)
	}
	wantMeeting := Meeting{
		ID:       reply.ID.String(),
		JoinURL:  reply.JoinURL,
		HostURL:  reply.StartURL,
		Platform: "zoom",
		Security: Security{
			EncryptionEnabled:  true,
			WaitingRoomEnabled: true,
			RecordingEnabled:   true,
			PasscodeSet:        true,
		},
	}
	if m != wantMeeting {
		t.Errorf("meeting:\n got %+v\nwant %+v", m, wantMeeting)
	}
	if ids := sb.MeetingIDs(); len(ids) != 1 || ids[0] != m.ID {
		t.Errorf("sandbox meetings = %v, want [%s]", ids, m.ID)
	}
}

func TestTokenCache(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration // clock move between two creates
		mints   int
	}{
		{"reused", 0, 1},
		{"61s before expiry", time.Hour - 61*time.Second, 1},
		{"59s before expiry", time.Hour - 59*time.Second, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, tp, cfg := setup(t, sandbox.Options{})
			now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
			cfg.Now = func() time.Time { return now }
			z := NewZoom(cfg)
			ctx := context.Background()

			if _, err := z.CreateMeeting(ctx, request("s-1")); err != nil {
				t.Fatal(err)
			}
			now = now.Add(tc.advance)
			if _, err := z.CreateMeeting(ctx, request("s-2")); err != nil {
				t.Fatal(err)
			}
			if got := tp.mints(); got != tc.mints {
				t.Errorf("token mints = %d, want %d", got, tc.mints)
			}
		})
	}
}

func TestTokenSingleFlight(t *testing.T) {
	sb, tp, cfg := setup(t, sandbox.Options{})
	z := NewZoom(cfg)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := z.CreateMeeting(context.Background(), request(fmt.Sprint("s-", i)))
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := tp.mints(); got != 1 {
		t.Errorf("token mints = %d, want 1", got)
	}
	if got := len(sb.MeetingIDs()); got != 8 {
		t.Errorf("meetings = %d, want 8", got)
	}
}

func TestRejectedTokenIsReplacedOnce(t *testing.T) {
	sb, tp, cfg := setup(t, sandbox.Options{})
	z := NewZoom(cfg)
	ctx := context.Background()
	if _, err := z.CreateMeeting(ctx, request("s-1")); err != nil {
		t.Fatal(err)
	}

	sb.ExpireTokens() // the cached token still looks fresh to the client
	if _, err := z.CreateMeeting(ctx, request("s-2")); err != nil {
		t.Fatalf("create after Zoom expired the token: %v", err)
	}
	if got := tp.mints(); got != 2 {
		t.Errorf("token mints = %d, want 2", got)
	}

	rejected := sandbox.Fault{Status: 401, Code: 124, Message: "Invalid access token."}
	sb.InjectNext(sandbox.CreateMeeting, 2, rejected)
	_, err := z.CreateMeeting(ctx, request("s-3"))
	want := Error{Op: "create meeting", Status: 401, Code: 124,
		Message: "Invalid access token."}
	if e, ok := errors.AsType[*Error](err); !ok || *e != want {
		t.Errorf("error = %#v, want %#v", err, want)
	}
	if got := tp.mints(); got != 3 {
		t.Errorf("token mints = %d, want 3: one more, not two", got)
	}
	// s-1: one call; s-2: rejected, then created; s-3: rejected twice.
	if got := len(tp.calls(http.MethodPost, createPath)); got != 5 {
		t.Errorf("create calls = %d, want 5", got)
	}
}

func TestCreateMeetingErrors(t *testing.T) {
	now := time.Date(2027, 1, 1, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		prepare func(*sandbox.Server, *ZoomConfig, *MeetingRequest)
		want    Error
	}{
		{
			name: "rate limited, seconds",
			prepare: func(sb *sandbox.Server, _ *ZoomConfig, _ *MeetingRequest) {
				sb.InjectNext(sandbox.CreateMeeting, 1, sandbox.Fault{
					Status: 429, Code: 429, Message: "Too many requests.", RetryAfter: "7"})
			},
			want: Error{Op: "create meeting", Status: 429, Code: 429,
				Message: "Too many requests.", Retryable: true, RetryAfter: 7 * time.Second},
		},
		{
			name: "rate limited, HTTP date",
			prepare: func(sb *sandbox.Server, _ *ZoomConfig, _ *MeetingRequest) {
				sb.InjectNext(sandbox.CreateMeeting, 1, sandbox.Fault{Status: 429,
					RetryAfter: now.Add(90 * time.Second).Format(http.TimeFormat)})
			},
			want: Error{Op: "create meeting", Status: 429, Message: "Too Many Requests",
				Retryable: true, RetryAfter: 90 * time.Second},
		},
		{
			name: "daily limit, RFC 3339",
			prepare: func(sb *sandbox.Server, _ *ZoomConfig, _ *MeetingRequest) {
				sb.InjectNext(sandbox.CreateMeeting, 1, sandbox.Fault{Status: 429,
					RetryAfter: "2027-01-02T00:00:00Z"})
			},
			want: Error{Op: "create meeting", Status: 429, Message: "Too Many Requests",
				Retryable: true, RetryAfter: 6 * time.Hour},
		},
		{
			name: "server error",
			prepare: func(sb *sandbox.Server, _ *ZoomConfig, _ *MeetingRequest) {
				sb.InjectNext(sandbox.CreateMeeting, 1, sandbox.Fault{Status: 502})
			},
			want: Error{Op: "create meeting", Status: 502, Message: "Bad Gateway",
				Retryable: true},
		},
		{
			name: "rejected by validation",
			prepare: func(_ *sandbox.Server, _ *ZoomConfig, req *MeetingRequest) {
				req.SessionID = strings.Repeat("x", 190) // topic over 200 characters
			},
			want: Error{Op: "create meeting", Status: 400, Code: 300,
				Message: "Validation Failed."},
		},
		{
			name: "long message cut",
			prepare: func(sb *sandbox.Server, _ *ZoomConfig, _ *MeetingRequest) {
				sb.InjectNext(sandbox.CreateMeeting, 1, sandbox.Fault{
					Status: 404, Code: 1001, Message: strings.Repeat("é", 300)})
			},
			want: Error{Op: "create meeting", Status: 404, Code: 1001,
				Message: strings.Repeat("é", 200)},
		},
		{
			name: "bad credentials",
			prepare: func(_ *sandbox.Server, cfg *ZoomConfig, _ *MeetingRequest) {
				cfg.ClientSecret = "wrong"
			},
			want: Error{Op: "get token", Status: 401,
				Message: "Invalid client_id or client_secret"},
		},
		{
			name: "token endpoint down",
			prepare: func(sb *sandbox.Server, _ *ZoomConfig, _ *MeetingRequest) {
				sb.InjectNext(sandbox.Token, 1, sandbox.Fault{Status: 503})
			},
			want: Error{Op: "get token", Status: 503, Message: "Service Unavailable",
				Retryable: true},
		},
		{
			name: "no session id",
			prepare: func(_ *sandbox.Server, _ *ZoomConfig, req *MeetingRequest) {
				req.SessionID = ""
			},
			want: Error{Op: "create meeting", Message: "no session id"},
		},
		{
			name: "host user me",
			prepare: func(_ *sandbox.Server, cfg *ZoomConfig, _ *MeetingRequest) {
				cfg.UserID = "me"
			},
			want: Error{Op: "create meeting", Message: "no host user configured"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sb, _, cfg := setup(t, sandbox.Options{})
			cfg.Now = func() time.Time { return now }
			req := request("s-1")
			tc.prepare(sb, &cfg, &req)

			_, err := NewZoom(cfg).CreateMeeting(context.Background(), req)
			if e, ok := errors.AsType[*Error](err); !ok || *e != tc.want {
				t.Errorf("error = %#v, want %#v", err, tc.want)
			}
			if ids := sb.MeetingIDs(); len(ids) != 0 {
				t.Errorf("meetings = %v, want none", ids)
			}
		})
	}
}

func TestServerErrorThenRetry(t *testing.T) {
	sb, tp, cfg := setup(t, sandbox.Options{})
	z := NewZoom(cfg)
	ctx := context.Background()
	sb.InjectNext(sandbox.CreateMeeting, 1, sandbox.Fault{Status: 500})

	_, err := z.CreateMeeting(ctx, request("s-1"))
	if e, ok := errors.AsType[*Error](err); !ok || !e.Retryable || e.Status != 500 {
		t.Fatalf("first attempt: error = %#v, want retryable 500", err)
	}
	retry := request("s-1")
	retry.MayExist = true
	m, err := z.CreateMeeting(ctx, retry)
	if err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if ids := sb.MeetingIDs(); len(ids) != 1 || ids[0] != m.ID {
		t.Errorf("meetings = %v, want [%s]", ids, m.ID)
	}
	if got := len(tp.calls(http.MethodGet, createPath)); got != 1 {
		t.Errorf("list calls = %d, want 1 (the lookup before creating)", got)
	}
}

func TestTimeoutThenAdopt(t *testing.T) {
	sb, tp, cfg := setup(t, sandbox.Options{})
	cfg.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond}
	z := NewZoom(cfg)
	ctx := context.Background()
	sb.InjectNext(sandbox.CreateMeeting, 1, sandbox.Fault{Delay: 5 * time.Second})

	_, err := z.CreateMeeting(ctx, request("s-1"))
	if e, ok := errors.AsType[*Error](err); !ok || e.Message != "timeout" ||
		!e.Retryable || e.Status != 0 || e.Err == nil {
		t.Fatalf("first attempt: error = %#v, want a retryable timeout with its cause", err)
	}
	created := sb.MeetingIDs()
	if len(created) != 1 {
		t.Fatalf("meetings after the timed-out create = %v, want one", created)
	}

	retry := request("s-1")
	retry.MayExist = true
	m, err := z.CreateMeeting(ctx, retry)
	if err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if m.ID != created[0] {
		t.Errorf("adopted meeting %s, want %s", m.ID, created[0])
	}
	if ids := sb.MeetingIDs(); len(ids) != 1 {
		t.Errorf("meetings = %v, want exactly one", ids)
	}
	if got := len(tp.calls(http.MethodGet, "/v2/meetings/"+m.ID)); got != 1 {
		t.Errorf("get meeting calls = %d, want 1", got)
	}
	if m.HostURL == "" || !m.Security.PasscodeSet || !m.Security.WaitingRoomEnabled {
		t.Errorf("adopted meeting lacks details from get meeting: %+v", m)
	}
}

func TestAdoptFollowsPages(t *testing.T) {
	sb, tp, cfg := setup(t, sandbox.Options{MaxPageSize: 2})
	z := NewZoom(cfg)
	ctx := context.Background()
	var last Meeting
	for i := range 5 {
		req := request(fmt.Sprint("s-", i))
		req.Start = testStart.Add(time.Duration(i) * time.Hour) // list order = creation order
		m, err := z.CreateMeeting(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		last = m
	}

	retry := request("s-4")
	retry.MayExist = true
	m, err := z.CreateMeeting(ctx, retry)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != last.ID {
		t.Errorf("adopted %s, want %s", m.ID, last.ID)
	}
	if got := len(tp.calls(http.MethodGet, createPath)); got != 3 {
		t.Errorf("list calls = %d, want 3 pages", got)
	}
	if got := len(sb.MeetingIDs()); got != 5 {
		t.Errorf("meetings = %d, want 5", got)
	}
}

func TestMeetingSecurityFromResponse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Security
	}{
		{"all on", `{"password":"x","settings":{"waiting_room":true,` +
			`"encryption_type":"enhanced_encryption","auto_recording":"cloud"}}`,
			Security{true, true, true, true}},
		{"e2ee", `{"settings":{"encryption_type":"e2ee"}}`,
			Security{EncryptionEnabled: true}},
		{"local recording", `{"settings":{"auto_recording":"local"}}`, Security{}},
		{"nothing", `{}`, Security{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var zm zoomMeeting
			if err := json.Unmarshal([]byte(tc.body), &zm); err != nil {
				t.Fatal(err)
			}
			if got := zm.meeting().Security; got != tc.want {
				t.Errorf("security = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMeetingIDDecoding(t *testing.T) {
	tests := []struct {
		body    string
		want    meetingID
		wantErr bool
	}{
		{`{"id":85746065432}`, "85746065432", false},
		{`{"id":"85746065432"}`, "85746065432", false},
		{`{"id":9007199254740993}`, "9007199254740993", false}, // 2^53+1: not a float64
		{`{"id":null}`, "", false},
		{`{"id":857.5}`, "", true},
		{`{"id":"abc"}`, "", true},
	}
	for _, tc := range tests {
		var m zoomMeeting
		err := json.Unmarshal([]byte(tc.body), &m)
		if (err != nil) != tc.wantErr || m.ID != tc.want {
			t.Errorf("%s: id %q, error %v; want %q, error %v",
				tc.body, m.ID, err, tc.want, tc.wantErr)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2027, 1, 1, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 5 ", 5 * time.Second},
		{"-3", 0},
		{"Fri, 01 Jan 2027 18:02:00 GMT", 2 * time.Minute},
		{"2027-01-02T00:00:00Z", 6 * time.Hour},
		{"2026-12-31T00:00:00Z", 0}, // in the past
		{"soon", 0},
	}
	for _, tc := range tests {
		if got := retryAfter(tc.header, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestNewPasscode(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9]{10}$`)
	seen := map[string]bool{}
	for range 500 {
		p := newPasscode()
		if !valid.MatchString(p) || !strings.ContainsAny(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") ||
			!strings.ContainsAny(p, "abcdefghijklmnopqrstuvwxyz") ||
			!strings.ContainsAny(p, "0123456789") {
			t.Fatalf("passcode %q: want 10 of [A-Za-z0-9] with upper, lower and digit", p)
		}
		seen[p] = true
	}
	if len(seen) != 500 {
		t.Errorf("%d distinct passcodes out of 500", len(seen))
	}
}

func TestHostLinkIsMintedByAGetCall(t *testing.T) {
	_, tp, cfg := setup(t, sandbox.Options{})
	z := NewZoom(cfg)
	m, err := z.CreateMeeting(context.Background(), request("s-host"))
	if err != nil {
		t.Fatalf("CreateMeeting: %v", err)
	}
	link, err := z.HostLink(context.Background(), m.ID)
	if err != nil {
		t.Fatalf("HostLink: %v", err)
	}
	if !strings.Contains(link, "/s/"+m.ID) || !strings.Contains(link, "zak=") {
		t.Errorf("host link = %q, want a start link with a zak token", phi.RedactURL(link))
	}
	if n := len(tp.calls(http.MethodGet, "/v2/meetings/"+m.ID)); n != 1 {
		t.Errorf("get calls = %d, want 1", n)
	}

	var verr *Error
	if _, err := z.HostLink(context.Background(), "999"); !errors.As(err, &verr) ||
		verr.Status != http.StatusNotFound || verr.Retryable {
		t.Errorf("unknown meeting: %v, want a permanent 404", err)
	}
	if _, err := z.HostLink(context.Background(), "../users"); err == nil {
		t.Error("a meeting id that is not a number must be refused before any call")
	}
}
