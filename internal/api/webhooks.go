package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/internal/visits"
	"github.com/telehealth/sessions/workflows"
)

// Webhook limits.
const (
	// MaxWebhookBytes is the largest platform event read; recording.completed is the
	// biggest Zoom sends.
	MaxWebhookBytes = 512 << 10
	// WebhookTolerance is how far a signed timestamp may be from our clock.
	WebhookTolerance = 5 * time.Minute
)

// ErrUnknownMeeting is what Visits.SignalVisit returns for a meeting no open session
// has: the event is acknowledged and recorded, not retried.
var ErrUnknownMeeting = visits.ErrUnknownMeeting

// ErrNotIndexed is the ErrUnknownMeeting of a meeting that no session, open or closed,
// is known to have yet.
var ErrNotIndexed = visits.ErrNotIndexed

// replayGuard remembers the signatures seen within the tolerance window: a signed
// request sent again is refused.
type replayGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time // signature → its timestamp
}

// first records sig and reports whether it is new. Entries older than the window go.
func (g *replayGuard) first(sig string, ts time.Time, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]time.Time{}
	}
	if _, ok := g.seen[sig]; ok {
		return false
	}
	if len(g.seen) > 1024 {
		for k, t := range g.seen {
			if now.Sub(t).Abs() > WebhookTolerance {
				delete(g.seen, k)
			}
		}
	}
	g.seen[sig] = ts
	return true
}

// forget drops sig, so that a request answered "retry later" can be sent again as is.
func (g *replayGuard) forget(sig string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.seen, sig)
}

// verifyZoom checks Zoom's signature: x-zm-signature is "v0=" and the hex HMAC-SHA256
// of "v0:<x-zm-request-timestamp>:<body>" keyed with the secret token. It returns what
// is wrong, or "".
func verifyZoom(secret string, h http.Header, body []byte, now time.Time,
	guard *replayGuard) string {
	tsText := h.Get("X-Zm-Request-Timestamp")
	sig := h.Get("X-Zm-Signature")
	if tsText == "" || sig == "" {
		return "missing signature"
	}
	secs, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return "bad timestamp"
	}
	ts := time.Unix(secs, 0)
	if now.Sub(ts).Abs() > WebhookTolerance {
		return "stale timestamp"
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + tsText + ":"))
	mac.Write(body)
	want := "v0=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return "bad signature"
	}
	if !guard.first(sig, ts, now) {
		return "replayed request"
	}
	return ""
}

// zoomWebhook is POST /webhooks/zoom. It verifies the signature before anything else,
// answers Zoom's URL validation, and turns each event into a signal: no platform or
// vendor call is made before the answer.
func (s *Server) zoomWebhook(c *gin.Context) {
	if s.cfg.ZoomWebhookSecret == "" {
		s.fail(c, http.StatusNotFound, "Not found")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxWebhookBytes))
	if err != nil {
		s.fail(c, http.StatusRequestEntityTooLarge, "Request body too large")
		return
	}
	if why := verifyZoom(s.cfg.ZoomWebhookSecret, c.Request.Header, body, time.Now(),
		&s.replays); why != "" {
		s.logger.WarnContext(c, "webhook rejected", "platform", "zoom", "reason", why)
		s.fail(c, http.StatusUnauthorized, "Unauthorized: "+why)
		return
	}
	ev, validation, ours, err := parseZoomEvent(body)
	switch {
	case err != nil:
		s.logger.WarnContext(c, "webhook unreadable", "platform", "zoom", "error", err)
		s.fail(c, http.StatusBadRequest, "Unreadable event: "+err.Error())
		return
	case validation != "":
		mac := hmac.New(sha256.New, []byte(s.cfg.ZoomWebhookSecret))
		mac.Write([]byte(validation))
		c.JSON(http.StatusOK, gin.H{"plainToken": validation,
			"encryptedToken": hex.EncodeToString(mac.Sum(nil))})
		return
	case ev == nil:
		c.JSON(http.StatusOK, gin.H{"status": "ignored"}) // not an event sessions use
		return
	}
	s.deliverEvent(c, *ev, ours)
	if c.Writer.Status() == http.StatusServiceUnavailable {
		s.replays.forget(c.GetHeader("X-Zm-Signature"))
	}
}

// deliverEvent signals the event to its session. An event for an unknown or closed
// session is acknowledged and recorded. The platform is asked to retry after an
// engine fault, and for a meeting of ours (by its topic) that no session is known to
// have yet: Temporal's search has not caught up with a meeting made a moment ago.
func (s *Server) deliverEvent(c *gin.Context, ev workflows.VisitEvent, ours bool) {
	visits, ok := s.sessions.(Visits)
	if !ok {
		s.fail(c, http.StatusServiceUnavailable, "Visits are not served here")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	err := visits.SignalVisit(ctx, ev)
	switch {
	case ours && errors.Is(err, ErrNotIndexed):
		s.logger.WarnContext(c, "webhook for a meeting not yet indexed",
			"event", string(ev.Type), "meeting_id", ev.MeetingID, "event_key", ev.Key)
		s.fail(c, http.StatusServiceUnavailable, "Meeting not yet known; retry later")
	case errors.Is(err, ErrUnknownMeeting) && ev.Type == workflows.EventRecordingComplete &&
		ev.Recording != nil:
		s.lateRecording(c, *ev.Recording)
	case errors.Is(err, ErrUnknownMeeting):
		s.logger.InfoContext(c, "webhook for unknown meeting", "event", string(ev.Type),
			"meeting_id", ev.MeetingID, "event_key", ev.Key)
		c.JSON(http.StatusOK, gin.H{"status": "unknown meeting"})
	case err != nil:
		s.logger.ErrorContext(c, "webhook not delivered", "event", string(ev.Type),
			"meeting_id", ev.MeetingID, "error", err)
		s.fail(c, http.StatusServiceUnavailable, "Event not delivered; retry later")
	default:
		c.JSON(http.StatusOK, gin.H{"status": "delivered"})
	}
}

// lateRecording starts the retention of a recording whose session has closed (its
// follow-up is past), which the session can no longer start: the recording must not
// be kept past its retention because its event came late. Redelivered, it finds the
// retention started. The platform is asked to retry when Temporal does not answer.
func (s *Server) lateRecording(c *gin.Context, rec workflows.Recording) {
	late, ok := s.sessions.(LateRecordings)
	if !ok {
		c.JSON(http.StatusOK, gin.H{"status": "unknown meeting"})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	sessionID, err := late.StartLateRetention(ctx, rec, s.cfg.Policy.RecordingRetention)
	switch {
	case errors.Is(err, ErrNotIndexed):
		s.logger.InfoContext(c, "webhook for unknown meeting",
			"event", string(workflows.EventRecordingComplete), "meeting_id", rec.MeetingID)
		c.JSON(http.StatusOK, gin.H{"status": "unknown meeting"})
	case err != nil:
		s.logger.ErrorContext(c, "late recording retention not started",
			"recording_id", rec.ID, "meeting_id", rec.MeetingID, "error", err)
		s.fail(c, http.StatusServiceUnavailable, "Retention not started; retry later")
	default:
		s.logger.InfoContext(c, "late recording retention started",
			"recording_id", rec.ID, "meeting_id", rec.MeetingID, "session_id", sessionID)
		c.JSON(http.StatusOK, gin.H{"status": "retention started"})
	}
}

// zoomEnvelope is the part of a Zoom event the sessions read. Participant names,
// emails and phone numbers are not even decoded.
type zoomEnvelope struct {
	Event   string `json:"event"`
	EventTS int64  `json:"event_ts"`
	Payload struct {
		PlainToken string          `json:"plainToken"`
		Object     json.RawMessage `json:"object"`
	} `json:"payload"`
}

type zoomObject struct {
	ID          json.RawMessage  `json:"id"`
	UUID        string           `json:"uuid"`
	HostID      string           `json:"host_id"`
	Topic       string           `json:"topic"`
	StartTime   string           `json:"start_time"`
	EndTime     string           `json:"end_time"`
	Participant *zoomParticipant `json:"participant"`
	// RecordingFiles are recording.completed's. The event's download_token, the
	// recording's password and play links are not even decoded.
	RecordingFiles []zoomRecordingFile `json:"recording_files"`
}

type zoomRecordingFile struct {
	ID            string `json:"id"`
	FileType      string `json:"file_type"`
	RecordingType string `json:"recording_type"`
	FileSize      int64  `json:"file_size"`
	DownloadURL   string `json:"download_url"`
}

type zoomParticipant struct {
	ID              string          `json:"id"`
	UserID          json.RawMessage `json:"user_id"`
	ParticipantUUID string          `json:"participant_uuid"`
	RegistrantID    string          `json:"registrant_id"`
	CustomerKey     string          `json:"customer_key"`
	DateTime        string          `json:"date_time"`
	JoinTime        string          `json:"join_time"`
	LeaveTime       string          `json:"leave_time"`
}

// parseZoomEvent reads a verified body. It returns the URL-validation token for that
// challenge, nil for an event the sessions do not use, or the event and whether its
// meeting's topic marks it as one of ours.
func parseZoomEvent(body []byte) (*workflows.VisitEvent, string, bool, error) {
	var env zoomEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, "", false, errors.New("not a JSON event")
	}
	if env.Event == "endpoint.url_validation" {
		if env.Payload.PlainToken == "" || len(env.Payload.PlainToken) > 256 {
			return nil, "", false, errors.New("no plainToken")
		}
		return nil, env.Payload.PlainToken, false, nil
	}
	typ := workflows.EventType(env.Event)
	if !typ.Known() {
		return nil, "", false, nil
	}
	var obj zoomObject
	if err := json.Unmarshal(env.Payload.Object, &obj); err != nil {
		return nil, "", false, errors.New("payload.object unreadable")
	}
	meetingID, err := meetingNumber(obj.ID)
	if err != nil {
		return nil, "", false, err
	}
	at := time.UnixMilli(env.EventTS).UTC()
	ev := &workflows.VisitEvent{Type: typ, MeetingID: meetingID, Instance: obj.UUID}
	var when string
	switch typ {
	case workflows.EventMeetingStarted:
		when = obj.StartTime
	case workflows.EventMeetingEnded:
		when = obj.EndTime
	}
	if p := obj.Participant; p != nil {
		userID := strings.Trim(string(p.UserID), `"`)
		id := cmp.Or(p.ParticipantUUID, userID, p.ID)
		if id == "" {
			return nil, "", false, errors.New("participant without an id")
		}
		ev.Participant = &workflows.Participant{
			ID:   id,
			Host: p.ID != "" && p.ID == obj.HostID,
			Key:  cmp.Or(p.RegistrantID, p.CustomerKey),
		}
		when = cmp.Or(p.DateTime, p.JoinTime, p.LeaveTime)
	}
	if t, err := time.Parse(time.RFC3339, when); err == nil {
		at = t.UTC()
	}
	if at.Unix() <= 0 {
		return nil, "", false, errors.New("event without a time")
	}
	ev.At = at
	if typ == workflows.EventRecordingComplete {
		if ev.Recording, err = zoomRecording(obj, meetingID, at); err != nil {
			return nil, "", false, err
		}
	}
	ev.Key = eventKey(env.Event, env.EventTS, ev)
	return ev, "", strings.HasPrefix(obj.Topic, video.TopicPrefix), nil
}

// zoomRecording is the recording a recording.completed event reports: its ids, types
// and sizes, and each file's download URL without its query, where Zoom may put an
// access token. A file without an id is left out.
func zoomRecording(obj zoomObject, meetingID string, at time.Time) (
	*workflows.Recording, error) {
	if obj.UUID == "" || len(obj.UUID) > 64 {
		return nil, errors.New("recording without a meeting uuid")
	}
	rec := &workflows.Recording{
		ID:          workflows.RecordingID("zoom", obj.UUID),
		Platform:    "zoom",
		MeetingID:   meetingID,
		MeetingUUID: obj.UUID,
		CompletedAt: at,
	}
	for _, f := range obj.RecordingFiles {
		if f.ID == "" {
			continue // nothing to name it by; the deletion goes by the meeting uuid
		}
		rec.Files = append(rec.Files, workflows.RecordingFile{
			ID:            f.ID,
			FileType:      f.FileType,
			RecordingType: f.RecordingType,
			Size:          f.FileSize,
			DownloadURL:   withoutQuery(f.DownloadURL),
		})
	}
	return rec, nil
}

// withoutQuery drops a URL's query, fragment and user info, or the whole URL when it
// is not an http(s) one.
func withoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	u.RawQuery, u.Fragment, u.User, u.RawFragment, u.ForceQuery = "", "", nil, "", false
	return u.String()
}

// meetingNumber reads a meeting id sent as a JSON number or a string of digits.
func meetingNumber(raw json.RawMessage) (string, error) {
	s := string(bytes.TrimSpace(raw))
	s = strings.TrimSuffix(strings.TrimPrefix(s, `"`), `"`)
	if s == "" || len(s) > 20 {
		return "", errors.New("no meeting id")
	}
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return "", errors.New("meeting id is not a meeting number")
	}
	return s, nil
}

// eventKey identifies an event across redeliveries, which repeat its body.
func eventKey(event string, ts int64, e *workflows.VisitEvent) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|%s|%s|%d", event, ts, e.MeetingID, e.Instance, e.At.UnixMilli())
	if e.Participant != nil {
		fmt.Fprintf(h, "|%s", e.Participant.ID)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
