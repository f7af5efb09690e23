// Package sandbox is a local stand-in for Zoom: an http.Handler that speaks Zoom's wire
// format for the calls the video package makes (Server-to-Server OAuth token, create,
// list, get, update, end and delete meetings), sends Zoom-format signed webhook
// events for the visits it plays (visit.go), records the meetings that record to the
// cloud and sends recording.completed for them, serves their downloads and deletes
// them (recordings.go), and serves the join and start links it hands out, so that
// they open in local runs. Tests can inject faults through the Server's methods; none
// of that is reachable over HTTP.
//
// Mount it at the root of a server and point the client at it: API URL
// <base>/v2, OAuth URL <base>/oauth/token.
//
// # State file
//
// With Options.StatePath set, the meetings outlive the process. The file is a journal
// in JSON lines, one change per line, appended with one write, without fsync, under the
// Server's lock, before the change is made in memory and answered:
//
//	{"op":"create","record":{"owner":"<userId>","meeting":{<the meeting>}}}
//	{"op":"update","record":{"owner":"<userId>","meeting":{<the meeting as updated>}}}
//	{"op":"delete","id":<meeting id>}
//
// A create or update line carries the whole meeting as it now is. A written line is in
// the kernel's hands at once, so it survives the process being killed, but not the
// machine losing power. New replays the lines in order; a last line cut short by a
// crash (no newline, not valid JSON) is skipped, as its change was never answered, and
// any other bad line is an error. New then compacts the file: it rewrites it as one
// create line per meeting, through a synced temporary file and a rename. A change
// compacts it too once it holds more than twice as many lines as meetings, plus 1 024,
// so that a change costs one short append and the file stays bounded.
// Live visits and end counts are not kept. A file in the older format, a JSON array of
// the records, is read and rewritten as a journal.
package sandbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

const zoomTime = "2006-01-02T15:04:05Z"

// Options configure a Server.
type Options struct {
	// AccountID, ClientID and ClientSecret are the credentials the token endpoint
	// accepts.
	AccountID    string
	ClientID     string
	ClientSecret string
	// TokenTTL is the lifetime of issued tokens; default 1 h, as Zoom's.
	TokenTTL time.Duration
	// StatePath, when set, is a file that keeps the meetings across restarts: a
	// journal of JSON lines (see the package doc). The directory must exist.
	StatePath string
	// MaxPageSize caps the list page_size; default 300, as Zoom's. Lower it to make
	// clients page.
	MaxPageSize int
	// WebhookURL, when set, receives the meetings' events, signed with
	// WebhookSecret as Zoom signs them (visit.go).
	WebhookURL    string
	WebhookSecret string
}

// Endpoint names a sandbox call, for fault injection.
type Endpoint string

// The calls a fault can be injected into.
const (
	Token         Endpoint = "token"
	CreateMeeting Endpoint = "create meeting"
	ListMeetings  Endpoint = "list meetings"
	GetMeeting    Endpoint = "get meeting"
	DeleteMeeting Endpoint = "delete meeting"
	UpdateMeeting Endpoint = "update meeting"
	MeetingStatus Endpoint = "update meeting status"
)

// Fault is one injected misbehaviour. With a Status, the call is not carried out: the
// answer is that status with a Zoom error body {code, message} and, when set, a
// Retry-After header. Without one, the call is carried out as usual. Either way the
// answer is held back for Delay, or until the client hangs up: a create delayed past
// the client's timeout leaves a meeting the client does not know about.
type Fault struct {
	Status     int
	Code       int
	Message    string // default: the status text
	RetryAfter string
	Delay      time.Duration
}

// Server is the sandbox. It is safe for concurrent use.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu       sync.Mutex
	tokens   map[string]time.Time // access token → expiry
	meetings map[int64]*record
	faults   map[Endpoint][]Fault
	live     map[string]*live // meeting id → the instance in progress
	ends     map[string]int   // meeting id → times ended
	state    *journal         // nil without a StatePath
	// recordings are the meeting instances' cloud recordings, by instance UUID
	// (recordings.go).
	recordings map[string]*recording
}

// New returns a Server, with the meetings kept at opts.StatePath if there are any.
func New(opts Options) (*Server, error) {
	opts.TokenTTL = cmp.Or(opts.TokenTTL, time.Hour)
	opts.MaxPageSize = cmp.Or(opts.MaxPageSize, 300)
	s := &Server{
		opts:     opts,
		mux:      http.NewServeMux(),
		tokens:   map[string]time.Time{},
		meetings: map[int64]*record{},
		faults:   map[Endpoint][]Fault{},
		live:     map[string]*live{},
		ends:     map[string]int{},
	}
	if opts.StatePath != "" {
		j, recs, err := openJournal(opts.StatePath)
		if err != nil {
			return nil, fmt.Errorf("sandbox: load state: %w", err)
		}
		s.state, s.meetings = j, recs
	}
	s.handle("POST /oauth/token", Token, s.issueToken)
	s.handle("POST /v2/users/{userId}/meetings", CreateMeeting, s.authed(s.createMeeting))
	s.handle("GET /v2/users/{userId}/meetings", ListMeetings, s.authed(s.listMeetings))
	s.handle("GET /v2/meetings/{meetingId}", GetMeeting, s.authed(s.getMeeting))
	s.handle("DELETE /v2/meetings/{meetingId}", DeleteMeeting, s.authed(s.deleteMeeting))
	s.handle("DELETE /v2/meetings/{meetingId}/recordings", DeleteRecordings,
		s.authed(s.deleteRecordings))
	s.handle("GET /rec/download/{fileId}", DownloadRecording, s.downloadRecording)
	s.handle("PATCH /v2/meetings/{meetingId}", UpdateMeeting, s.authed(s.updateMeeting))
	s.handle("PUT /v2/meetings/{meetingId}/status", MeetingStatus,
		s.authed(s.updateStatus))
	s.mux.HandleFunc("POST /sandbox/meetings/{meetingId}/{action}", s.play)
	s.mux.HandleFunc("GET /j/{meetingId}", s.page("patient"))
	s.mux.HandleFunc("GET /s/{meetingId}", s.page("host"))
	return s, nil
}

// ServeHTTP serves Zoom's API, its OAuth endpoint and the meeting links.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// InjectNext makes the next n calls to e misbehave as f says.
func (s *Server) InjectNext(e Endpoint, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[e] = append(s.faults[e], f)
	}
}

// ExpireTokens expires every token issued so far, as if their hour had passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Close releases the state file. Changes made afterwards fail; what was kept stays.
// Without a StatePath it does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == nil {
		return nil
	}
	return s.state.close()
}

// logLocked appends a change to the state file, if there is one, before it is made in
// memory, so that a change that could not be kept is not made at all. s.mu is held.
func (s *Server) logLocked(e entry) error {
	if s.state == nil {
		return nil
	}
	return s.state.append(e, s.meetings)
}

// tidyLocked compacts the state file when it has grown past its bound, after a change
// has been made in memory. s.mu is held.
func (s *Server) tidyLocked() {
	if s.state != nil {
		s.state.tidy(s.meetings)
	}
}

// MeetingIDs returns the ids of the existing meetings in ascending order; its length
// is the meeting count.
func (s *Server) MeetingIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, id := range slices.Sorted(maps.Keys(s.meetings)) {
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	return ids
}

// handle routes pattern to h, through the faults queued for e.
func (s *Server) handle(pattern string, e Endpoint, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		f, ok := pop(s.faults, e)
		s.mu.Unlock()
		switch {
		case !ok:
			h(w, r)
		case f.Status != 0:
			hold(r, f.Delay)
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			msg := cmp.Or(f.Message, http.StatusText(f.Status))
			writeJSON(w, f.Status, apiError{Code: f.Code, Message: msg})
		default:
			rec := httptest.NewRecorder()
			h(rec, r)
			hold(r, f.Delay)
			maps.Copy(w.Header(), rec.Header())
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		}
	})
}

func pop(faults map[Endpoint][]Fault, e Endpoint) (Fault, bool) {
	q := faults[e]
	if len(q) == 0 {
		return Fault{}, false
	}
	faults[e] = q[1:]
	return q[0], true
}

// hold waits for d, or until the client has gone.
func hold(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// issueToken is Zoom's account_credentials grant.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	switch {
	case !ok || id != s.opts.ClientID || secret != s.opts.ClientSecret:
		writeJSON(w, http.StatusUnauthorized,
			oauthError{Error: "invalid_client", Reason: "Invalid client_id or client_secret"})
		return
	case r.FormValue("grant_type") != "account_credentials":
		writeJSON(w, http.StatusBadRequest,
			oauthError{Error: "unsupported_grant_type", Reason: "Unsupported grant type"})
		return
	case r.FormValue("account_id") != s.opts.AccountID:
		writeJSON(w, http.StatusBadRequest,
			oauthError{Error: "invalid_request", Reason: "Invalid account_id"})
		return
	}
	token := rand.Text()
	now := time.Now()
	s.mu.Lock()
	maps.DeleteFunc(s.tokens, func(_ string, exp time.Time) bool { return !now.Before(exp) })
	s.tokens[token] = now.Add(s.opts.TokenTTL)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"token_type":   "bearer",
		"expires_in":   int(s.opts.TokenTTL / time.Second),
		"scope":        "meeting:read:admin meeting:write:admin",
	})
}

// authed lets through requests with a live bearer token.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, known := s.tokens[token]
		s.mu.Unlock()
		if !ok || !known || !time.Now().Before(exp) {
			writeJSON(w, http.StatusUnauthorized,
				apiError{Code: 124, Message: "Invalid access token."})
			return
		}
		h(w, r)
	}
}

// meeting is what the create and get calls return, less start_url, which is minted
// afresh for each answer.
type meeting struct {
	UUID              string         `json:"uuid"`
	ID                int64          `json:"id"`
	HostID            string         `json:"host_id"`
	HostEmail         string         `json:"host_email,omitempty"`
	Topic             string         `json:"topic"`
	Type              int            `json:"type"`
	StartTime         string         `json:"start_time"`
	Duration          int            `json:"duration"`
	Timezone          string         `json:"timezone,omitempty"`
	Agenda            string         `json:"agenda,omitempty"`
	CreatedAt         string         `json:"created_at"`
	JoinURL           string         `json:"join_url"`
	Password          string         `json:"password,omitempty"`
	EncryptedPassword string         `json:"encrypted_password,omitempty"`
	Settings          map[string]any `json:"settings"`
}

// record is a meeting with its owner, the userId it was created under; it is also the
// form the state file keeps.
type record struct {
	Owner   string  `json:"owner"`
	Meeting meeting `json:"meeting"`
}

// listItem is a meeting as the list call returns it.
type listItem struct {
	UUID      string `json:"uuid"`
	ID        int64  `json:"id"`
	HostID    string `json:"host_id"`
	Topic     string `json:"topic"`
	Type      int    `json:"type"`
	StartTime string `json:"start_time"`
	Duration  int    `json:"duration"`
	Timezone  string `json:"timezone,omitempty"`
	Agenda    string `json:"agenda,omitempty"`
	CreatedAt string `json:"created_at"`
	JoinURL   string `json:"join_url"`
}

type apiError struct {
	Code    int          `json:"code"`
	Message string       `json:"message"`
	Errors  []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

type oauthError struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

func invalidField(field string) apiError {
	return apiError{Code: 300, Message: "Validation Failed.",
		Errors: []fieldError{{Field: field, Message: "Invalid field."}}}
}

func notFound(id string) apiError {
	return apiError{Code: 3001, Message: "Meeting does not exist: " + id + "."}
}

var passcodePattern = regexp.MustCompile(`^[A-Za-z0-9@_*-]{0,10}$`)

func (s *Server) createMeeting(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Topic     string         `json:"topic"`
		Type      int            `json:"type"`
		StartTime string         `json:"start_time"`
		Duration  int            `json:"duration"`
		Timezone  string         `json:"timezone"`
		Password  string         `json:"password"`
		Agenda    string         `json:"agenda"`
		Settings  map[string]any `json:"settings"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest,
			apiError{Code: 300, Message: "Request Body should be a valid JSON object."})
		return
	}
	start, err := parseStart(req.StartTime, req.Timezone)
	var bad string
	switch {
	case req.Type != 2:
		bad = "type" // the sandbox makes scheduled meetings only
	case err != nil:
		bad = "start_time"
	case req.Duration <= 0:
		bad = "duration"
	case utf8.RuneCountInString(req.Topic) > 200:
		bad = "topic"
	case !passcodePattern.MatchString(req.Password):
		bad = "password"
	}
	if bad != "" {
		writeJSON(w, http.StatusBadRequest, invalidField(bad))
		return
	}

	// Zoom's defaults, then what was asked.
	settings := map[string]any{
		"host_video": false, "participant_video": false, "join_before_host": false,
		"mute_upon_entry": false, "watermark": false, "use_pmi": false,
		"approval_type": 2, "audio": "both", "auto_recording": "none",
		"waiting_room": false, "meeting_authentication": false,
		"encryption_type": "enhanced_encryption",
	}
	maps.Copy(settings, req.Settings)
	// Zoom secures every meeting with a passcode, a waiting room or authentication.
	if req.Password == "" && settings["waiting_room"] != true &&
		settings["meeting_authentication"] != true {
		settings["waiting_room"] = true
	}

	user := r.PathValue("userId")
	m := meeting{
		UUID:      base64.StdEncoding.EncodeToString(randomBytes(16)),
		HostID:    hostID(user),
		Topic:     req.Topic,
		Type:      req.Type,
		StartTime: start.UTC().Format(zoomTime),
		Duration:  req.Duration,
		Timezone:  req.Timezone,
		Agenda:    req.Agenda,
		CreatedAt: time.Now().UTC().Format(zoomTime),
		Password:  req.Password,
		Settings:  settings,
	}
	if strings.Contains(user, "@") {
		m.HostEmail = user
	}
	s.mu.Lock()
	for m.ID == 0 || s.meetings[m.ID] != nil {
		m.ID = 10_000_000_000 + mrand.Int64N(90_000_000_000) // 11 digits
	}
	m.JoinURL = fmt.Sprintf("%s/j/%d", baseURL(r), m.ID)
	if m.Password != "" {
		m.EncryptedPassword = rand.Text()
		m.JoinURL += "?pwd=" + m.EncryptedPassword
	}
	rec := &record{Owner: user, Meeting: m}
	err = s.logLocked(entry{Op: opCreate, Record: rec})
	if err == nil {
		s.meetings[m.ID] = rec
		s.tidyLocked()
	}
	s.mu.Unlock()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError,
			apiError{Code: 500, Message: "sandbox: save state: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, s.full(r, m))
}

// parseStart reads start_time as Zoom does: with "Z" it is UTC, without it wall-clock
// time in timezone (UTC when that is absent or unknown).
func parseStart(v, timezone string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	loc, err := time.LoadLocation(timezone)
	if err != nil {
		loc = time.UTC
	}
	return time.ParseInLocation("2006-01-02T15:04:05", v, loc)
}

func (s *Server) listMeetings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size := 30
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, invalidField("page_size"))
			return
		}
		size = min(n, s.opts.MaxPageSize)
	}
	offset := 0
	if v := q.Get("next_page_token"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err == nil {
			offset, err = strconv.Atoi(string(b))
		}
		if err != nil || offset < 0 {
			writeJSON(w, http.StatusBadRequest, invalidField("next_page_token"))
			return
		}
	}
	include, ok := listFilter(cmp.Or(q.Get("type"), "scheduled"), time.Now())
	if !ok {
		writeJSON(w, http.StatusBadRequest, invalidField("type"))
		return
	}

	user := r.PathValue("userId")
	var items []listItem
	s.mu.Lock()
	for _, rec := range s.meetings {
		if m := rec.Meeting; rec.Owner == user && include(m) {
			items = append(items, listItem{
				UUID: m.UUID, ID: m.ID, HostID: m.HostID, Topic: m.Topic, Type: m.Type,
				StartTime: m.StartTime, Duration: m.Duration, Timezone: m.Timezone,
				Agenda: m.Agenda, CreatedAt: m.CreatedAt, JoinURL: m.JoinURL,
			})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(items, func(a, b listItem) int {
		return cmp.Or(strings.Compare(a.StartTime, b.StartTime), cmp.Compare(a.ID, b.ID))
	})

	page := items[min(offset, len(items)):min(offset+size, len(items))]
	if page == nil {
		page = []listItem{} // Zoom sends [], not null
	}
	next := ""
	if offset+size < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset + size)))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"page_size":       size,
		"total_records":   len(items),
		"next_page_token": next,
		"meetings":        page,
	})
}

// listFilter picks the meetings a list type covers. The sandbox has no live meetings.
func listFilter(typ string, now time.Time) (func(meeting) bool, bool) {
	cutoff := now.UTC().Format(zoomTime) // the format sorts as text
	startsAfterNow := func(m meeting) bool { return m.StartTime > cutoff }
	switch typ {
	case "scheduled":
		return func(meeting) bool { return true }, true
	case "upcoming", "upcoming_meetings":
		return startsAfterNow, true
	case "previous_meetings":
		return func(m meeting) bool { return !startsAfterNow(m) }, true
	case "live":
		return func(meeting) bool { return false }, true
	}
	return nil, false
}

func (s *Server) getMeeting(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("meetingId")
	rec := s.lookup(id)
	if rec == nil {
		writeJSON(w, http.StatusNotFound, notFound(id))
		return
	}
	writeJSON(w, http.StatusOK, s.full(r, rec.Meeting))
}

func (s *Server) deleteMeeting(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("meetingId")
	n, _ := strconv.ParseInt(id, 10, 64)
	s.mu.Lock()
	rec, found := s.meetings[n]
	var err error
	if found {
		err = s.logLocked(entry{Op: opDelete, ID: n})
	}
	if found && err == nil {
		delete(s.meetings, n)
		delete(s.live, id)
		s.tidyLocked()
	}
	s.mu.Unlock()
	if found && err == nil {
		m := rec.Meeting
		go func() { _ = s.Send(context.Background(), deletedEvent(s.opts.AccountID, m)) }()
	}
	switch {
	case !found:
		writeJSON(w, http.StatusNotFound, notFound(id))
	case err != nil:
		writeJSON(w, http.StatusInternalServerError,
			apiError{Code: 500, Message: "sandbox: save state: " + err.Error()})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// page serves the stand-in for Zoom's join (patient) and start (host) pages.
func (s *Server) page(role string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := s.lookup(r.PathValue("meetingId"))
		if rec == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html>\n<title>Sandbox meeting %d</title>\n"+
			"<p>Sandbox meeting %d (%s)</p>\n", rec.Meeting.ID, rec.Meeting.ID, role)
	}
}

func (s *Server) lookup(id string) *record {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meetings[n]
}

// full adds a freshly minted start_url to m, as Zoom's create and get calls do.
func (s *Server) full(r *http.Request, m meeting) any {
	return struct {
		meeting
		StartURL string `json:"start_url"`
	}{m, fmt.Sprintf("%s/s/%d?zak=%s", baseURL(r), m.ID, rand.Text())}
}

func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// hostID derives a stable, Zoom-looking user id from the userId path value.
func hostID(user string) string {
	sum := sha256.Sum256([]byte(user))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails: since Go 1.24 it crashes the program instead
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// deletedEvent is Zoom's meeting.deleted event for m.
func deletedEvent(account string, m meeting) map[string]any {
	return map[string]any{
		"event":    "meeting.deleted",
		"event_ts": time.Now().UnixMilli(),
		"payload": map[string]any{"account_id": account, "operator": "api",
			"object": map[string]any{"id": m.ID, "uuid": m.UUID, "host_id": m.HostID,
				"topic": m.Topic, "type": m.Type, "start_time": m.StartTime,
				"duration": m.Duration}},
	}
}
