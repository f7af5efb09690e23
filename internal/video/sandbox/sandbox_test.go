package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // for the local start time case on hosts without zone files
)

var creds = Options{AccountID: "acct-1", ClientID: "client-1", ClientSecret: "secret-1"}

// start serves a new sandbox over HTTP.
func start(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	opts.AccountID, opts.ClientID, opts.ClientSecret = creds.AccountID, creds.ClientID,
		creds.ClientSecret
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// call sends a request and decodes a JSON answer, if there is one.
func call(t *testing.T, method, url, token string, body any) (
	int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if b, _ := io.ReadAll(resp.Body); len(b) > 0 && strings.Contains(
		resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// mint gets a token with the given credentials.
func mint(t *testing.T, srv *httptest.Server, client, secret, account, grant string) (
	int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {grant}, "account_id": {account}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token",
		strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func token(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	status, out := mint(t, srv, creds.ClientID, creds.ClientSecret, creds.AccountID,
		"account_credentials")
	if status != http.StatusOK {
		t.Fatalf("token: status %d: %v", status, out)
	}
	return out["access_token"].(string)
}

func meetingBody(topic string, start time.Time) map[string]any {
	return map[string]any{
		"topic": topic, "type": 2, "start_time": start.UTC().Format(zoomTime),
		"duration": 30, "password": "Ab3dEf7hIj",
		"settings": map[string]any{"waiting_room": true, "auto_recording": "cloud"},
	}
}

func create(t *testing.T, srv *httptest.Server, tok string, body map[string]any,
) map[string]any {
	t.Helper()
	status, _, out := call(t, http.MethodPost, srv.URL+"/v2/users/host@x.example/meetings",
		tok, body)
	if status != http.StatusCreated {
		t.Fatalf("create: status %d: %v", status, out)
	}
	return out
}

func TestToken(t *testing.T) {
	_, srv := start(t, Options{TokenTTL: 10 * time.Minute})
	tests := []struct {
		name                           string
		client, secret, account, grant string
		status                         int
		field, want                    string // a field of the answer
	}{
		{"good", "client-1", "secret-1", "acct-1", "account_credentials", 200,
			"token_type", "bearer"},
		{"wrong secret", "client-1", "nope", "acct-1", "account_credentials", 401,
			"error", "invalid_client"},
		{"wrong account", "client-1", "secret-1", "acct-2", "account_credentials", 400,
			"error", "invalid_request"},
		{"wrong grant", "client-1", "secret-1", "acct-1", "client_credentials", 400,
			"error", "unsupported_grant_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, out := mint(t, srv, tc.client, tc.secret, tc.account, tc.grant)
			if status != tc.status || out[tc.field] != tc.want {
				t.Errorf("status %d, answer %v; want %d with %s=%s",
					status, out, tc.status, tc.field, tc.want)
			}
			if status == 200 && (out["expires_in"] != 600.0 || out["access_token"] == "") {
				t.Errorf("answer %v: want a token that expires in 600 s", out)
			}
		})
	}
}

func TestCreateValidation(t *testing.T) {
	s, srv := start(t, Options{})
	tok := token(t, srv)
	start := time.Date(2027, 3, 4, 20, 30, 0, 0, time.UTC)
	tests := []struct {
		name   string
		token  string
		change func(map[string]any)
		status int
		code   float64
		field  string
	}{
		{"valid", tok, func(map[string]any) {}, 201, 0, ""},
		{"local start time", tok, func(b map[string]any) {
			b["start_time"], b["timezone"] = "2027-03-04T15:30:00", "America/New_York"
		}, 201, 0, ""},
		{"no token", "", func(map[string]any) {}, 401, 124, ""},
		{"unknown token", "forged", func(map[string]any) {}, 401, 124, ""},
		{"instant meeting", tok, func(b map[string]any) { b["type"] = 1 }, 400, 300, "type"},
		{"bad start", tok, func(b map[string]any) { b["start_time"] = "tomorrow" }, 400, 300,
			"start_time"},
		{"no duration", tok, func(b map[string]any) { b["duration"] = 0 }, 400, 300,
			"duration"},
		{"long topic", tok, func(b map[string]any) { b["topic"] = strings.Repeat("t", 201) },
			400, 300, "topic"},
		{"long password", tok, func(b map[string]any) { b["password"] = "12345678901" },
			400, 300, "password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.MeetingIDs())
			body := meetingBody("Telehealth session s-1", start)
			tc.change(body)
			status, _, out := call(t, http.MethodPost,
				srv.URL+"/v2/users/host@x.example/meetings", tc.token, body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, out)
			}
			if tc.status == 201 {
				if out["start_time"] != "2027-03-04T20:30:00Z" {
					t.Errorf("start_time %v, want 2027-03-04T20:30:00Z", out["start_time"])
				}
				if got := len(s.MeetingIDs()); got != before+1 {
					t.Errorf("meetings %d, want %d", got, before+1)
				}
				return
			}
			if out["code"] != tc.code {
				t.Errorf("code %v, want %v", out["code"], tc.code)
			}
			if tc.field != "" && !strings.Contains(fmt.Sprint(out["errors"]), tc.field) {
				t.Errorf("errors %v, want field %s", out["errors"], tc.field)
			}
			if got := len(s.MeetingIDs()); got != before {
				t.Errorf("meetings %d, want %d", got, before)
			}
		})
	}
}

func TestCreateGetDelete(t *testing.T) {
	_, srv := start(t, Options{})
	tok := token(t, srv)
	created := create(t, srv, tok, meetingBody("Telehealth session s-1",
		time.Now().Add(time.Hour)))

	id := fmt.Sprintf("%.0f", created["id"])
	if !regexp.MustCompile(`^[1-9][0-9]{10}$`).MatchString(id) {
		t.Errorf("id %s: want 11 digits", id)
	}
	join := regexp.MustCompile(`^` + srv.URL + `/j/` + id + `\?pwd=[A-Z0-9]+$`)
	if s, _ := created["join_url"].(string); !join.MatchString(s) {
		t.Errorf("join_url %q", s)
	}
	hostLink := regexp.MustCompile(`^` + srv.URL + `/s/` + id + `\?zak=[A-Z0-9]+$`)
	if s, _ := created["start_url"].(string); !hostLink.MatchString(s) {
		t.Errorf("start_url %q", s)
	}
	settings, _ := created["settings"].(map[string]any)
	if settings["auto_recording"] != "cloud" ||
		settings["encryption_type"] != "enhanced_encryption" {
		t.Errorf("settings %v: want what was asked over Zoom's defaults", settings)
	}

	status, _, got := call(t, http.MethodGet, srv.URL+"/v2/meetings/"+id, tok, nil)
	if status != 200 || got["join_url"] != created["join_url"] ||
		got["topic"] != created["topic"] {
		t.Errorf("get: status %d, %v", status, got)
	}
	if got["start_url"] == created["start_url"] {
		t.Error("get returned the same start_url; want a fresh one")
	}

	for link, role := range map[string]string{"/j/": "patient", "/s/": "host"} {
		resp, err := http.Get(srv.URL + link + id)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "Sandbox meeting " + id + " (" + role + ")"
		if resp.StatusCode != 200 || !strings.Contains(string(page), want) {
			t.Errorf("%s: status %d, page %q; want %q", link, resp.StatusCode, page, want)
		}
	}

	status, _, _ = call(t, http.MethodDelete, srv.URL+"/v2/meetings/"+id, tok, nil)
	if status != 204 {
		t.Errorf("delete: status %d, want 204", status)
	}
	gone := "Meeting does not exist: " + id + "."
	for _, method := range []string{http.MethodDelete, http.MethodGet} {
		status, _, out := call(t, method, srv.URL+"/v2/meetings/"+id, tok, nil)
		if status != 404 || out["code"] != 3001.0 || out["message"] != gone {
			t.Errorf("%s after delete: status %d, %v", method, status, out)
		}
	}
	resp, err := http.Get(srv.URL + "/j/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("join page after delete: status %d, want 404", resp.StatusCode)
	}
}

func TestSecurityOptionEnforced(t *testing.T) {
	_, srv := start(t, Options{})
	tok := token(t, srv)
	tests := []struct {
		name        string
		password    string
		waitingRoom bool
	}{
		{"passcode", "abc123", false},
		{"nothing", "", true}, // Zoom turns the waiting room on
	}
	for _, tc := range tests {
		body := meetingBody("t", time.Now().Add(time.Hour))
		body["password"] = tc.password
		body["settings"] = map[string]any{
			"waiting_room": false, "meeting_authentication": false}
		out := create(t, srv, tok, body)
		if got := out["settings"].(map[string]any)["waiting_room"]; got != tc.waitingRoom {
			t.Errorf("%s: waiting_room %v, want %v", tc.name, got, tc.waitingRoom)
		}
	}
}

func TestList(t *testing.T) {
	_, srv := start(t, Options{MaxPageSize: 2})
	tok := token(t, srv)
	now := time.Now()
	for i, offset := range []time.Duration{-time.Hour, time.Hour, 2 * time.Hour} {
		create(t, srv, tok, meetingBody(fmt.Sprint("m", i), now.Add(offset)))
	}
	list := srv.URL + "/v2/users/host@x.example/meetings"

	var topics []string
	next := ""
	for page := 0; ; page++ {
		q := url.Values{"type": {"scheduled"}, "page_size": {"300"}}
		if next != "" {
			q.Set("next_page_token", next)
		}
		status, _, out := call(t, http.MethodGet, list+"?"+q.Encode(), tok, nil)
		if status != 200 || out["total_records"] != 3.0 || out["page_size"] != 2.0 {
			t.Fatalf("page %d: status %d, %v", page, status, out)
		}
		for _, m := range out["meetings"].([]any) {
			topics = append(topics, m.(map[string]any)["topic"].(string))
		}
		if next, _ = out["next_page_token"].(string); next == "" {
			break
		}
	}
	if fmt.Sprint(topics) != "[m0 m1 m2]" {
		t.Errorf("scheduled meetings %v, want [m0 m1 m2] by start time", topics)
	}

	status, _, out := call(t, http.MethodGet, list+"?type=upcoming", tok, nil)
	if status != 200 || out["total_records"] != 2.0 {
		t.Errorf("upcoming: status %d, %v; want the 2 future meetings", status, out)
	}
	status, _, out = call(t, http.MethodGet, srv.URL+"/v2/users/other@x.example/meetings",
		tok, nil)
	if ms, _ := out["meetings"].([]any); status != 200 || ms == nil || len(ms) != 0 {
		t.Errorf("another host: status %d, %v; want an empty list", status, out)
	}
}

func TestFaults(t *testing.T) {
	s, srv := start(t, Options{})
	tok := token(t, srv)
	meetings := srv.URL + "/v2/users/host@x.example/meetings"
	body := meetingBody("t", time.Now().Add(time.Hour))

	s.InjectNext(CreateMeeting, 2, Fault{Status: 429, Code: 429, Message: "slow down",
		RetryAfter: "3"})
	for range 2 {
		status, header, out := call(t, http.MethodPost, meetings, tok, body)
		if status != 429 || header.Get("Retry-After") != "3" || out["message"] != "slow down" {
			t.Errorf("status %d, Retry-After %q, %v", status, header.Get("Retry-After"), out)
		}
	}
	if status, _, _ := call(t, http.MethodPost, meetings, tok, body); status != 201 {
		t.Errorf("after the faults: status %d, want 201", status)
	}

	s.InjectNext(CreateMeeting, 1, Fault{Delay: 200 * time.Millisecond})
	began := time.Now()
	if status, _, _ := call(t, http.MethodPost, meetings, tok, body); status != 201 {
		t.Errorf("delayed create: status %d, want 201", status)
	}
	if d := time.Since(began); d < 200*time.Millisecond {
		t.Errorf("delayed create answered after %v, want at least 200ms", d)
	}
	if got := len(s.MeetingIDs()); got != 2 {
		t.Errorf("meetings %d, want 2", got)
	}

	s.ExpireTokens()
	status, _, out := call(t, http.MethodGet, meetings, tok, nil)
	if status != 401 || out["code"] != 124.0 {
		t.Errorf("after ExpireTokens: status %d, %v; want 401 code 124", status, out)
	}
}

func TestStatePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.json")
	first, srv := start(t, Options{StatePath: path})
	created := create(t, srv, token(t, srv), meetingBody("t", time.Now().Add(time.Hour)))

	second, srv2 := start(t, Options{StatePath: path})
	if a, b := fmt.Sprint(first.MeetingIDs()), fmt.Sprint(second.MeetingIDs()); a != b {
		t.Fatalf("after restart meetings %s, want %s", b, a)
	}
	id := fmt.Sprintf("%.0f", created["id"])
	status, _, got := call(t, http.MethodGet, srv2.URL+"/v2/meetings/"+id,
		token(t, srv2), nil)
	if status != 200 || got["join_url"] != created["join_url"] ||
		got["password"] != created["password"] {
		t.Errorf("get after restart: status %d, %v", status, got)
	}
}

func TestConcurrentCreates(t *testing.T) {
	s, srv := start(t, Options{})
	tok := token(t, srv)
	var wg sync.WaitGroup
	body, _ := json.Marshal(meetingBody("t", time.Now().Add(time.Hour)))
	for range 20 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v2/users/h/meetings",
				bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if got := len(s.MeetingIDs()); got != 20 {
		t.Errorf("meetings %d, want 20", got)
	}
}
