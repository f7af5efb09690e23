package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Person is someone who joins a sandbox meeting. UserName and Email go into the events
// as Zoom sends them (they are PHI there too): the receiver must drop them.
type Person struct {
	UserName string `json:"user_name"`
	Email    string `json:"email"`
	// CustomerKey is the joiner's opaque key, when the join link carried one.
	CustomerKey string `json:"customer_key,omitempty"`
	// Host marks the meeting's host (the provider).
	Host bool `json:"-"`
}

// live is a meeting in progress: its instance and who is in it or waiting.
type live struct {
	instance string
	started  time.Time          // when the host started it; zero before
	present  map[*Person]string // person → participant_uuid
	waiting  map[*Person]string
}

// userSeq numbers joins, as Zoom's per-join user_id.
var userSeq atomic.Int64

// updateMeeting is Zoom's PATCH /meetings/{meetingId}: start_time, duration, timezone.
func (s *Server) updateMeeting(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("meetingId")
	var req struct {
		StartTime *string `json:"start_time"`
		Duration  *int    `json:"duration"`
		Timezone  *string `json:"timezone"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest,
			apiError{Code: 300, Message: "Request Body should be a valid JSON object."})
		return
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.meetings[n]
	if rec == nil {
		writeJSON(w, http.StatusNotFound, notFound(id))
		return
	}
	m := rec.Meeting
	if req.Timezone != nil {
		m.Timezone = *req.Timezone
	}
	if req.StartTime != nil {
		start, err := parseStart(*req.StartTime, m.Timezone)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, invalidField("start_time"))
			return
		}
		m.StartTime = start.UTC().Format(zoomTime)
	}
	if req.Duration != nil {
		if *req.Duration <= 0 {
			writeJSON(w, http.StatusBadRequest, invalidField("duration"))
			return
		}
		m.Duration = *req.Duration
	}
	// A new record, not an edit of the old one, which readers may hold.
	updated := &record{Owner: rec.Owner, Meeting: m}
	if err := s.logLocked(entry{Op: opUpdate, Record: updated}); err != nil {
		writeJSON(w, http.StatusInternalServerError,
			apiError{Code: 500, Message: "sandbox: save state: " + err.Error()})
		return
	}
	s.meetings[n] = updated
	s.tidyLocked()
	w.WriteHeader(http.StatusNoContent)
}

// updateStatus is Zoom's PUT /meetings/{meetingId}/status; the sandbox knows "end".
func (s *Server) updateStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("meetingId")
	var req struct {
		Action string `json:"action"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil ||
		req.Action != "end" {
		writeJSON(w, http.StatusBadRequest, invalidField("action"))
		return
	}
	if s.lookup(id) == nil {
		writeJSON(w, http.StatusNotFound, notFound(id))
		return
	}
	// Zoom answers first and tells the webhook afterwards.
	w.WriteHeader(http.StatusNoContent)
	go func() { _ = s.End(context.Background(), id) }()
}

// Ends reports how many times each meeting was ended through the API or End.
func (s *Server) Ends(meetingID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ends[meetingID]
}

// Start starts a meeting: a new instance, with the host in it.
func (s *Server) Start(ctx context.Context, meetingID string, host *Person) error {
	s.mu.Lock()
	rec := s.recordLocked(meetingID)
	if rec == nil {
		s.mu.Unlock()
		return fmt.Errorf("sandbox: no meeting %s", meetingID)
	}
	l := &live{instance: base64.StdEncoding.EncodeToString(randomBytes(16)),
		started: time.Now(),
		present: map[*Person]string{}, waiting: map[*Person]string{}}
	s.live[meetingID] = l
	s.mu.Unlock()
	host.Host = true
	if err := s.emit(ctx, "meeting.started", meetingID, nil, ""); err != nil {
		return err
	}
	return s.Join(ctx, meetingID, host)
}

// Wait puts someone in the meeting's waiting room.
func (s *Server) Wait(ctx context.Context, meetingID string, p *Person) error {
	if err := s.move(meetingID, p, true); err != nil {
		return err
	}
	return s.emit(ctx, "meeting.participant_joined_waiting_room", meetingID, p, "date_time")
}

// Admit lets someone in from the waiting room, with the events Zoom sends for it.
func (s *Server) Admit(ctx context.Context, meetingID string, p *Person) error {
	for _, e := range []string{"meeting.participant_admitted",
		"meeting.participant_left_waiting_room"} {
		if err := s.emit(ctx, e, meetingID, p, "date_time"); err != nil {
			return err
		}
	}
	return s.Join(ctx, meetingID, p)
}

// Join puts someone in the meeting.
func (s *Server) Join(ctx context.Context, meetingID string, p *Person) error {
	if err := s.move(meetingID, p, false); err != nil {
		return err
	}
	return s.emit(ctx, "meeting.participant_joined", meetingID, p, "join_time")
}

// Leave takes someone out of the meeting.
func (s *Server) Leave(ctx context.Context, meetingID string, p *Person) error {
	if err := s.emit(ctx, "meeting.participant_left", meetingID, p, "leave_time"); err != nil {
		return err
	}
	s.mu.Lock()
	if l := s.live[meetingID]; l != nil {
		delete(l.present, p)
	}
	s.mu.Unlock()
	return nil
}

// End ends the meeting's instance: everyone leaves, then the meeting ends. An
// instance the host started, of a meeting that records to the cloud, then has its
// recording, and recording.completed is sent (recordings.go).
func (s *Server) End(ctx context.Context, meetingID string) error {
	s.mu.Lock()
	s.ends[meetingID]++
	l := s.live[meetingID]
	var people []*Person
	if l != nil {
		for p := range l.present {
			people = append(people, p)
		}
	}
	s.mu.Unlock()
	if l == nil {
		return nil
	}
	for _, p := range people {
		if err := s.Leave(ctx, meetingID, p); err != nil {
			return err
		}
	}
	err := s.emit(ctx, "meeting.ended", meetingID, nil, "")
	s.mu.Lock()
	delete(s.live, meetingID)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.recordEnded(ctx, meetingID, l.instance, l.started, time.Now())
}

// move records p as waiting or present in the live meeting.
func (s *Server) move(meetingID string, p *Person, waiting bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.live[meetingID]
	if l == nil {
		if s.recordLocked(meetingID) == nil {
			return fmt.Errorf("sandbox: no meeting %s", meetingID)
		}
		// Before the host starts it, a guest waits for the host.
		l = &live{instance: base64.StdEncoding.EncodeToString(randomBytes(16)),
			present: map[*Person]string{}, waiting: map[*Person]string{}}
		s.live[meetingID] = l
	}
	uuid := l.waiting[p]
	if uuid == "" {
		uuid = l.present[p]
	}
	if uuid == "" {
		uuid = base64.StdEncoding.EncodeToString(randomBytes(12))
	}
	delete(l.waiting, p)
	delete(l.present, p)
	if waiting {
		l.waiting[p] = uuid
	} else {
		l.present[p] = uuid
	}
	return nil
}

func (s *Server) recordLocked(meetingID string) *record {
	n, err := strconv.ParseInt(meetingID, 10, 64)
	if err != nil {
		return nil
	}
	return s.meetings[n]
}

// emit sends one signed event to the webhook, as Zoom does: meeting ids as numbers in
// meeting.started, ended and deleted, as strings in the participant events.
func (s *Server) emit(ctx context.Context, event, meetingID string, p *Person,
	timeField string) error {
	now := time.Now().UTC()
	s.mu.Lock()
	rec := s.recordLocked(meetingID)
	l := s.live[meetingID]
	var m meeting
	if rec != nil {
		m = rec.Meeting
	}
	var uuid, instance string
	if l != nil {
		instance = l.instance
		uuid = l.present[p]
		if uuid == "" {
			uuid = l.waiting[p]
		}
	}
	s.mu.Unlock()
	if instance == "" {
		instance = m.UUID
	}

	object := map[string]any{
		"uuid": instance, "host_id": m.HostID, "topic": m.Topic, "type": m.Type,
		"start_time": m.StartTime, "duration": m.Duration, "timezone": m.Timezone,
	}
	if p == nil {
		object["id"] = m.ID
	} else {
		object["id"] = strconv.FormatInt(m.ID, 10)
		part := map[string]any{
			"user_id":          strconv.FormatInt(16778240+userSeq.Add(1), 10),
			"user_name":        p.UserName,
			"email":            p.Email,
			"participant_uuid": uuid,
			timeField:          now.Format(zoomTime),
		}
		if p.CustomerKey != "" {
			part["customer_key"] = p.CustomerKey
		}
		if p.Host {
			part["id"] = m.HostID
		}
		object["participant"] = part
	}
	if event == "meeting.ended" {
		object["end_time"] = now.Format(zoomTime)
	}
	if event == "meeting.started" {
		object["start_time"] = now.Format(zoomTime)
	}
	return s.Send(ctx, map[string]any{
		"event":    event,
		"event_ts": now.UnixMilli(),
		"payload":  map[string]any{"account_id": s.opts.AccountID, "object": object},
	})
}

// Send posts body to the webhook URL, signed as Zoom signs it. Without a webhook URL
// it does nothing.
func (s *Server) Send(ctx context.Context, body any) error {
	if s.opts.WebhookURL == "" {
		return nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("sandbox: encode event: %w", err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.WebhookURL,
		bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("sandbox: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Zoom Marketplace/1.0a")
	req.Header.Set("x-zm-request-timestamp", ts)
	req.Header.Set("x-zm-signature", Sign(s.opts.WebhookSecret, ts, b))
	resp, err := webhookClient.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox: webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return errors.New("sandbox: webhook answered " + resp.Status)
	}
	return nil
}

var webhookClient = &http.Client{Timeout: 10 * time.Second}

// Sign is Zoom's webhook signature: "v0=" and the hex HMAC-SHA256, keyed with the
// secret token, of "v0:<timestamp>:<body>".
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// The people of a locally played visit.
var (
	playProvider = &Person{UserName: "Sandbox Provider", Email: "host@sandbox.local",
		Host: true}
	playPatient = &Person{UserName: "Sandbox Patient", Email: "patient@sandbox.local"}
)

// play is POST /sandbox/meetings/{meetingId}/{action}: it plays a visit step by step
// from a terminal (start, wait, admit, join, leave, end; who=patient|provider for
// leave).
func (s *Server) play(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("meetingId")
	ctx := r.Context()
	var err error
	switch r.PathValue("action") {
	case "start":
		err = s.Start(ctx, id, playProvider)
	case "wait":
		err = s.Wait(ctx, id, playPatient)
	case "admit":
		err = s.Admit(ctx, id, playPatient)
	case "join":
		err = s.Join(ctx, id, playPatient)
	case "leave":
		who := playPatient
		if r.URL.Query().Get("who") == "provider" {
			who = playProvider
		}
		err = s.Leave(ctx, id, who)
	case "end":
		err = s.End(ctx, id)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadGateway, apiError{Code: 502, Message: err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
