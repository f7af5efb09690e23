package video

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	zoomPlatform = "zoom"

	// tokenMargin is how long before Zoom's expiry a token stops being used, so that
	// a token never expires between our check and Zoom's.
	tokenMargin = 60 * time.Second

	maxResponseBytes = 1 << 20
	maxMessageRunes  = 200
	passcodeLen      = 10 // Zoom's maximum
)

// ZoomConfig configures a Zoom client for a Server-to-Server OAuth app. Empty optional
// fields take the defaults noted on them.
type ZoomConfig struct {
	APIURL       string // default https://api.zoom.us/v2
	OAuthURL     string // default https://zoom.us/oauth/token
	AccountID    string
	ClientID     string
	ClientSecret string
	// UserID is the host of every meeting: a Zoom user id or e-mail. It is required:
	// "me" means the app's own user, which a Server-to-Server app does not have.
	UserID     string
	HTTPClient *http.Client     // default: a client of its own with a 15 s timeout
	Now        func() time.Time // default time.Now; tests move it to age tokens
	Logger     *slog.Logger     // default slog.Default()
}

// Zoom is the Platform for Zoom. It caches one OAuth token and is safe for concurrent
// use.
type Zoom struct {
	cfg ZoomConfig

	// tokenLock admits one caller at a time to the token fields below, so that
	// concurrent callers share one mint. A channel, unlike a mutex, lets a waiting
	// caller give up when its context ends.
	tokenLock  chan struct{}
	token      string
	tokenUntil time.Time // when to stop using token: tokenMargin before it expires
}

// NewZoom returns a Zoom client. It makes no network call.
func NewZoom(cfg ZoomConfig) *Zoom {
	cfg.APIURL = strings.TrimSuffix(cmp.Or(cfg.APIURL, "https://api.zoom.us/v2"), "/")
	cfg.OAuthURL = cmp.Or(cfg.OAuthURL, "https://zoom.us/oauth/token")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Zoom{cfg: cfg, tokenLock: make(chan struct{}, 1)}
}

// CreateMeeting creates a scheduled meeting with the telehealth settings for the
// session. When req.MayExist is set it first looks for a meeting tagged with the
// session id and, if there is one, returns it instead: Zoom has no idempotency key.
func (z *Zoom) CreateMeeting(ctx context.Context, req MeetingRequest) (Meeting, error) {
	if err := z.check(req); err != nil {
		return Meeting{}, err
	}
	if req.MayExist {
		m, found, err := z.findMeeting(ctx, req.SessionID)
		if err != nil {
			return Meeting{}, err
		}
		if found {
			z.cfg.Logger.InfoContext(ctx, "video meeting adopted",
				"session_id", req.SessionID, "provider", zoomPlatform)
			return m, nil
		}
	}
	var created zoomMeeting
	err := z.call(ctx, "create meeting", http.MethodPost, z.meetingsPath(),
		createBody(req), &created)
	if err != nil {
		return Meeting{}, err
	}
	return created.meeting(), nil
}

// check rejects, before any call, what Zoom would reject or what would create a
// meeting nobody can find again.
func (z *Zoom) check(req MeetingRequest) error {
	var problem string
	switch {
	case z.cfg.UserID == "" || z.cfg.UserID == "me":
		problem = "no host user configured"
	case req.SessionID == "":
		problem = "no session id"
	case req.Start.IsZero():
		problem = "no start time"
	case req.DurationMinutes <= 0:
		problem = "no duration"
	default:
		return nil
	}
	return &Error{Op: "create meeting", Message: problem}
}

// findMeeting looks through the host's meetings for one tagged with the session id and
// returns its full details. The list holds "scheduled" meetings, not just "upcoming"
// ones: a session starting now may already be past its start time and not yet live.
func (z *Zoom) findMeeting(ctx context.Context, sessionID string) (Meeting, bool, error) {
	query := url.Values{"type": {"scheduled"}, "page_size": {"300"}}
	for {
		var page struct {
			NextPageToken string        `json:"next_page_token"`
			Meetings      []zoomMeeting `json:"meetings"`
		}
		path := z.meetingsPath() + "?" + query.Encode()
		if err := z.call(ctx, "list meetings", http.MethodGet, path, nil, &page); err != nil {
			return Meeting{}, false, err
		}
		for _, m := range page.Meetings {
			if m.Topic != meetingTopic(sessionID) && m.Agenda != sessionTag(sessionID) {
				continue
			}
			// The list lacks start_url and settings.
			var full zoomMeeting
			path := "/meetings/" + string(m.ID)
			if err := z.call(ctx, "get meeting", http.MethodGet, path, nil, &full); err != nil {
				return Meeting{}, false, err
			}
			return full.meeting(), true, nil
		}
		if page.NextPageToken == "" {
			return Meeting{}, false, nil
		}
		query.Set("next_page_token", page.NextPageToken)
	}
}

func (z *Zoom) meetingsPath() string {
	return "/users/" + url.PathEscape(z.cfg.UserID) + "/meetings"
}

// call sends one API request with a bearer token and decodes the answer into out; every
// failure is an *Error. A token that Zoom rejects (401, code 124: expired, revoked or
// malformed, Zoom does not say which) is replaced once and the request sent again.
func (z *Zoom) call(ctx context.Context, op, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return &Error{Op: op, Message: "encode request", Err: err}
		}
	}
	rejected := ""
	for {
		token, err := z.accessToken(ctx, rejected)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, method, z.cfg.APIURL+path,
			bytes.NewReader(body))
		if err != nil {
			return &Error{Op: op, Message: "invalid api url", Err: err}
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		err = z.do(op, req, out)
		if e, ok := errors.AsType[*Error](err); ok && rejected == "" &&
			e.Status == http.StatusUnauthorized && e.Code == 124 {
			z.cfg.Logger.WarnContext(ctx, "video token rejected",
				"provider", zoomPlatform, "status", e.Status)
			rejected = token
			continue
		}
		return err
	}
}

// accessToken returns the cached token, or mints one when there is none, when it is
// within tokenMargin of expiry, or when it is the token Zoom has just rejected.
func (z *Zoom) accessToken(ctx context.Context, rejected string) (string, error) {
	select {
	case z.tokenLock <- struct{}{}:
	case <-ctx.Done():
		return "", &Error{Op: "get token", Message: "gave up waiting for token",
			Retryable: true, Err: ctx.Err()}
	}
	defer func() { <-z.tokenLock }()

	if z.token != "" && z.token != rejected && z.cfg.Now().Before(z.tokenUntil) {
		return z.token, nil
	}
	z.token = ""
	issued := z.cfg.Now()
	form := url.Values{
		"grant_type": {"account_credentials"},
		"account_id": {z.cfg.AccountID},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, z.cfg.OAuthURL,
		strings.NewReader(form.Encode()))
	if err != nil {
		return "", &Error{Op: "get token", Message: "invalid oauth url", Err: err}
	}
	req.SetBasicAuth(z.cfg.ClientID, z.cfg.ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var minted tokenResponse
	if err := z.do("get token", req, &minted); err != nil {
		return "", err
	}
	z.token = minted.AccessToken
	z.tokenUntil = issued.Add(time.Duration(minted.ExpiresIn)*time.Second - tokenMargin)
	return z.token, nil
}

// checker is a decoded response body that can tell whether it holds what we need.
type checker interface{ check() error }

// do sends req and decodes a 2xx JSON answer into out. Every failure is an *Error.
func (z *Zoom) do(op string, req *http.Request, out any) error {
	resp, err := z.cfg.HTTPClient.Do(req)
	if err != nil {
		msg := "no response"
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			msg = "timeout"
		}
		return &Error{Op: op, Message: msg, Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return &Error{Op: op, Status: resp.StatusCode, Message: "response cut short",
			Retryable: true, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return z.statusError(op, resp, body)
	}
	if out == nil {
		return nil // 204: the calls that change a meeting answer with no body
	}
	// A malformed success is retryable: for a create, the next attempt (MayExist)
	// finds the meeting if Zoom made it.
	if err := json.Unmarshal(body, out); err != nil {
		return &Error{Op: op, Status: resp.StatusCode, Message: "undecodable response",
			Retryable: true, Err: err}
	}
	if c, ok := out.(checker); ok {
		if err := c.check(); err != nil {
			return &Error{Op: op, Status: resp.StatusCode, Message: err.Error(), Retryable: true}
		}
	}
	return nil
}

// statusError classifies a non-2xx answer. The API's error body is {code, message}; the
// OAuth endpoint's is {error, reason}, and its 400 and 401 mean bad credentials.
func (z *Zoom) statusError(op string, resp *http.Response, body []byte) *Error {
	var b struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Reason  string `json:"reason"`
	}
	_ = json.Unmarshal(body, &b) // a body that is not JSON leaves the status alone
	e := &Error{
		Op:      op,
		Status:  resp.StatusCode,
		Code:    b.Code,
		Message: truncate(cmp.Or(b.Message, b.Reason), maxMessageRunes),
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Retryable = true
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), z.cfg.Now())
	case resp.StatusCode >= 500:
		e.Retryable = true
	}
	return e
}

// retryAfter reads a Retry-After header: seconds, an HTTP date, or the RFC 3339 time
// Zoom has sent for its daily limit. It returns 0 when the header says nothing usable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if secs, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	t, err := http.ParseTime(v)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, v); err != nil {
			return 0
		}
	}
	return max(t.Sub(now), 0)
}

func truncate(s string, runes int) string {
	for i := range s {
		if runes == 0 {
			return s[:i]
		}
		runes--
	}
	return s
}

func meetingTopic(sessionID string) string { return TopicPrefix + sessionID }

// TopicPrefix begins the topic of every meeting this service creates: an event whose
// meeting has it is ours, even before our records show the meeting.
const TopicPrefix = "Telehealth session "

func sessionTag(sessionID string) string { return "telehealth-session:" + sessionID }

// createRequest is the body of Zoom's create-meeting call.
type createRequest struct {
	Topic     string          `json:"topic"`
	Type      int             `json:"type"`
	StartTime string          `json:"start_time"`
	Duration  int             `json:"duration"`
	Timezone  string          `json:"timezone,omitempty"`
	Password  string          `json:"password"`
	Agenda    string          `json:"agenda"`
	Settings  meetingSettings `json:"settings"`
}

// meetingSettings are the per-meeting settings we send. Zoom takes no per-meeting
// field for host-only screen sharing, recording passcodes or the recording
// disclaimer: those are account or user settings and must be set (and locked) there.
type meetingSettings struct {
	HostVideo                         bool   `json:"host_video"`
	ParticipantVideo                  bool   `json:"participant_video"`
	JoinBeforeHost                    bool   `json:"join_before_host"`
	WaitingRoom                       bool   `json:"waiting_room"`
	ApprovalType                      int    `json:"approval_type"`
	EncryptionType                    string `json:"encryption_type"`
	MeetingAuthentication             bool   `json:"meeting_authentication"`
	AutoRecording                     string `json:"auto_recording"`
	Watermark                         bool   `json:"watermark"`
	MuteUponEntry                     bool   `json:"mute_upon_entry"`
	UsePMI                            bool   `json:"use_pmi"`
	PrivateMeeting                    bool   `json:"private_meeting"`
	EmailNotification                 bool   `json:"email_notification"`
	RegistrantsEmailNotification      bool   `json:"registrants_email_notification"`
	AlternativeHostsEmailNotification bool   `json:"alternative_hosts_email_notification"`
	PushChangeToCalendar              bool   `json:"push_change_to_calendar"`
	AutoStartMeetingSummary           bool   `json:"auto_start_meeting_summary"`
	AutoStartAICompanionQuestions     bool   `json:"auto_start_ai_companion_questions"`
}

// createBody builds the create-meeting body. Zoom shows the topic and agenda in
// invitations, reports and webhooks, so they carry the session id and nothing else.
func createBody(req MeetingRequest) createRequest {
	return createRequest{
		Topic: meetingTopic(req.SessionID),
		Type:  2, // scheduled
		// With "Z" Zoom reads the time as UTC; timezone then only sets the display zone.
		StartTime: req.Start.UTC().Format("2006-01-02T15:04:05Z"),
		Duration:  req.DurationMinutes,
		Timezone:  req.Timezone,
		Password:  newPasscode(),
		Agenda:    sessionTag(req.SessionID),
		Settings: meetingSettings{
			HostVideo:        true,
			ParticipantVideo: true,
			WaitingRoom:      true,
			ApprovalType:     2, // no registration
			EncryptionType:   "enhanced_encryption",
			// Patients then need a Zoom sign-in to join; the spec asks for it.
			MeetingAuthentication: true,
			AutoRecording:         "cloud",
			Watermark:             true,
			MuteUponEntry:         true,
			PrivateMeeting:        true,
		},
	}
}

const passcodeChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newPasscode returns a random passcode of Zoom's maximum length. It always mixes
// upper case, lower case and digits, which passes the passcode rules an account can
// impose, except one that asks for special characters.
func newPasscode() string {
	for {
		code := make([]byte, 0, passcodeLen)
		var buf [16]byte
		for len(code) < passcodeLen {
			rand.Read(buf[:]) // never fails: since Go 1.24 it crashes the program instead
			for _, b := range buf {
				// Only bytes below 4*62 = 248, so that every character is equally likely.
				if b < 248 && len(code) < passcodeLen {
					code = append(code, passcodeChars[b%62])
				}
			}
		}
		s := string(code)
		if strings.ContainsAny(s, passcodeChars[:26]) &&
			strings.ContainsAny(s, passcodeChars[26:52]) &&
			strings.ContainsAny(s, passcodeChars[52:]) {
			return s
		}
	}
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

func (t *tokenResponse) check() error {
	if t.AccessToken == "" {
		return errors.New("no access token")
	}
	return nil
}

// zoomMeeting is a meeting as the create, get and list calls return it; the list
// leaves out the links, password and settings.
type zoomMeeting struct {
	ID       meetingID `json:"id"`
	Topic    string    `json:"topic"`
	Agenda   string    `json:"agenda"`
	JoinURL  string    `json:"join_url"`
	StartURL string    `json:"start_url"`
	Password string    `json:"password"`
	Settings struct {
		WaitingRoom    bool   `json:"waiting_room"`
		EncryptionType string `json:"encryption_type"`
		AutoRecording  string `json:"auto_recording"`
	} `json:"settings"`
}

func (m *zoomMeeting) check() error {
	if m.ID == "" || m.JoinURL == "" || m.StartURL == "" {
		return errors.New("meeting without id or links")
	}
	return nil
}

// meeting reports the settings Zoom applied, not the ones we asked for: Zoom may
// override them (it turns on a waiting room when passcode, waiting room and
// authentication are all off, for example).
func (m *zoomMeeting) meeting() Meeting {
	return Meeting{
		ID:       string(m.ID),
		JoinURL:  m.JoinURL,
		HostURL:  m.StartURL,
		Platform: zoomPlatform,
		Security: Security{
			EncryptionEnabled: m.Settings.EncryptionType == "enhanced_encryption" ||
				m.Settings.EncryptionType == "e2ee",
			WaitingRoomEnabled: m.Settings.WaitingRoom,
			RecordingEnabled:   m.Settings.AutoRecording == "cloud",
			PasscodeSet:        m.Password != "",
		},
	}
}

// meetingID is a Zoom meeting number in decimal. Zoom sends it as a JSON number that
// can exceed float64's exact range; a string of digits is accepted too.
type meetingID string

// UnmarshalJSON accepts a JSON number or a string of digits.
func (id *meetingID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return errors.New("meeting id is not a meeting number")
	}
	*id = meetingID(s)
	return nil
}

// HostLink reads the meeting from Zoom, which mints a fresh start_url (its zak token
// lasts about two hours) on every get call. The link is a credential: the caller
// redirects the host to it and keeps it nowhere.
func (z *Zoom) HostLink(ctx context.Context, meetingID string) (string, error) {
	if err := checkMeetingID("host link", meetingID); err != nil {
		return "", err
	}
	var m zoomMeeting
	if err := z.call(ctx, "host link", http.MethodGet, "/meetings/"+meetingID,
		nil, &m); err != nil {
		return "", err
	}
	return m.StartURL, nil
}

// UpdateMeeting moves a meeting: PATCH /meetings/{meetingId}, answered 204.
func (z *Zoom) UpdateMeeting(ctx context.Context, meetingID string, req MeetingRequest) error {
	const op = "update meeting"
	if err := checkMeetingID(op, meetingID); err != nil {
		return err
	}
	if req.Start.IsZero() || req.DurationMinutes <= 0 {
		return &Error{Op: op, Message: "no start time or duration"}
	}
	body := struct {
		StartTime string `json:"start_time"`
		Duration  int    `json:"duration"`
		Timezone  string `json:"timezone,omitempty"`
	}{req.Start.UTC().Format("2006-01-02T15:04:05Z"), req.DurationMinutes, req.Timezone}
	return z.call(ctx, op, http.MethodPatch, "/meetings/"+meetingID, body, nil)
}

// EndMeeting ends a meeting in progress: PUT /meetings/{meetingId}/status with the
// action "end". A meeting that no longer exists has nothing left to end.
func (z *Zoom) EndMeeting(ctx context.Context, meetingID string) error {
	const op = "end meeting"
	if err := checkMeetingID(op, meetingID); err != nil {
		return err
	}
	err := z.call(ctx, op, http.MethodPut, "/meetings/"+meetingID+"/status",
		map[string]string{"action": "end"}, nil)
	return goneIsDone(err)
}

// DeleteMeeting deletes a meeting without Zoom's own emails to host or registrants:
// the session tells people itself. A meeting already gone counts as deleted.
func (z *Zoom) DeleteMeeting(ctx context.Context, meetingID string) error {
	const op = "delete meeting"
	if err := checkMeetingID(op, meetingID); err != nil {
		return err
	}
	q := url.Values{"schedule_for_reminder": {"false"}, "cancel_meeting_reminder": {"false"}}
	err := z.call(ctx, op, http.MethodDelete, "/meetings/"+meetingID+"?"+q.Encode(),
		nil, nil)
	return goneIsDone(err)
}

// DeleteRecording deletes for good every file of one meeting instance's cloud
// recording: DELETE /meetings/{meetingUUID}/recordings?action=delete, answered 204.
// Zoom asks for a UUID that begins with "/" or holds "//" to be encoded twice. A
// recording already gone (404, code 3301) counts as deleted.
func (z *Zoom) DeleteRecording(ctx context.Context, meetingUUID string) error {
	const op = "delete recording"
	if !recordingUUIDPattern.MatchString(meetingUUID) {
		return &Error{Op: op, Message: "not a meeting uuid"}
	}
	path := "/meetings/" + RecordingPathSegment(meetingUUID) + "/recordings?" +
		url.Values{"action": {"delete"}}.Encode()
	err := z.call(ctx, op, http.MethodDelete, path, nil, nil)
	if e, ok := errors.AsType[*Error](err); ok && e.Status == http.StatusNotFound &&
		(e.Code == 3301 || e.Code == 3001 || e.Code == 0) {
		return nil
	}
	return err
}

// recordingUUIDPattern is a Zoom meeting UUID (base64) or a meeting number.
var recordingUUIDPattern = regexp.MustCompile(`^[A-Za-z0-9+/=_-]{1,64}$`)

// RecordingPathSegment is a meeting UUID as Zoom's recording paths take it: escaped
// once, or twice when it begins with "/" or holds "//".
func RecordingPathSegment(meetingUUID string) string {
	seg := url.PathEscape(meetingUUID)
	if strings.HasPrefix(meetingUUID, "/") || strings.Contains(meetingUUID, "//") {
		seg = url.PathEscape(seg)
	}
	return seg
}

// checkMeetingID refuses anything but a meeting number, which also keeps the path
// free of injected segments.
func checkMeetingID(op, id string) error {
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return &Error{Op: op, Message: "meeting id is not a meeting number"}
	}
	return nil
}

// goneIsDone treats Zoom's "meeting does not exist" (404, code 3001) as success.
func goneIsDone(err error) error {
	if e, ok := errors.AsType[*Error](err); ok && e.Status == http.StatusNotFound &&
		(e.Code == 3001 || e.Code == 0) {
		return nil
	}
	return err
}
