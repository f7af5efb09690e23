package video

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"net/http"
	"strings"
	"time"

	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

const meetPlatform = "meet"

// MeetScope is the OAuth scope the Meet platform needs: it creates Calendar events
// that carry a Meet conference.
const MeetScope = calendar.CalendarEventsScope

// MeetConfig configures the Google Meet platform.
type MeetConfig struct {
	// CalendarID is the calendar that holds the sessions' events, usually the
	// provider's or a clinic resource's; "primary" is the credentials' own user's.
	CalendarID string
	Timeout    time.Duration // of each call
	// Options carry the credentials (a service account acting for a Workspace user)
	// and, for staging and tests, the endpoint.
	Options []option.ClientOption
}

// Meet is the Platform for Google Meet, through Google Calendar: each session is a
// private event with a Meet conference. The event's id is derived from the session
// id, so creation is idempotent (a second insert is a 409, and the event is read
// instead), and the conference's requestId is the session id.
//
// Meet has no waiting room and no start link of its own: the meeting's host is the
// calendar's owner, recognised by their Google sign-in, so HostLink returns the same
// link as the patient's. Ending a conference is not offered through Calendar.
type Meet struct {
	cfg MeetConfig
	svc *calendar.Service
}

// NewMeet returns the Meet platform; it makes no network call.
func NewMeet(ctx context.Context, cfg MeetConfig) (*Meet, error) {
	svc, err := calendar.NewService(ctx, cfg.Options...)
	if err != nil {
		return nil, errors.New("video platform: meet client setup failed")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	return &Meet{cfg: cfg, svc: svc}, nil
}

// meetEventID is the session's event id: base32hex (Calendar's id alphabet) of a hash
// of the session id.
func meetEventID(sessionID string) string {
	sum := sha256.Sum256([]byte("telehealth-session:" + sessionID))
	enc := base32.HexEncoding.WithPadding(base32.NoPadding)
	return strings.ToLower(enc.EncodeToString(sum[:20]))
}

// CreateMeeting creates the session's event and conference, or returns the one an
// earlier attempt created.
func (m *Meet) CreateMeeting(ctx context.Context, req MeetingRequest) (Meeting, error) {
	const op = "create meeting"
	if req.SessionID == "" || req.Start.IsZero() || req.DurationMinutes <= 0 {
		return Meeting{}, &Error{Op: op, Message: "incomplete request"}
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	id := meetEventID(req.SessionID)
	ev := &calendar.Event{
		Id:          id,
		Summary:     meetingTopic(req.SessionID),
		Description: sessionTag(req.SessionID),
		Start:       eventTime(req.Start, req.Timezone),
		End: eventTime(req.Start.Add(time.Duration(req.DurationMinutes)*time.Minute),
			req.Timezone),
		Visibility:              "private",
		GuestsCanInviteOthers:   googleapi.Bool(false),
		GuestsCanSeeOtherGuests: googleapi.Bool(false),
		ConferenceData: &calendar.ConferenceData{
			CreateRequest: &calendar.CreateConferenceRequest{
				RequestId:             req.SessionID,
				ConferenceSolutionKey: &calendar.ConferenceSolutionKey{Type: "hangoutsMeet"},
			},
		},
	}
	got, err := m.svc.Events.Insert(m.cfg.CalendarID, ev).ConferenceDataVersion(1).
		SendUpdates("none").Context(ctx).Do()
	if gerr, ok := errors.AsType[*googleapi.Error](err); ok &&
		gerr.Code == http.StatusConflict {
		got, err = m.svc.Events.Get(m.cfg.CalendarID, id).Context(ctx).Do()
	}
	if err != nil {
		return Meeting{}, meetError(op, err)
	}
	return meetMeeting(op, got)
}

func eventTime(t time.Time, zone string) *calendar.EventDateTime {
	return &calendar.EventDateTime{DateTime: t.UTC().Format(time.RFC3339), TimeZone: zone}
}

// meetMeeting reads the conference from an event. A conference still being set up
// ("pending") is a retryable error: the next attempt reads the event again.
func meetMeeting(op string, ev *calendar.Event) (Meeting, error) {
	cd := ev.ConferenceData
	if cd != nil && cd.CreateRequest != nil && cd.CreateRequest.Status != nil {
		switch cd.CreateRequest.Status.StatusCode {
		case "pending":
			return Meeting{}, &Error{Op: op, Message: "conference pending", Retryable: true}
		case "failure":
			return Meeting{}, &Error{Op: op, Message: "conference creation failed"}
		}
	}
	link := ""
	if cd != nil {
		for _, ep := range cd.EntryPoints {
			if ep.EntryPointType == "video" {
				link = ep.Uri
			}
		}
	}
	if link == "" {
		return Meeting{}, &Error{Op: op, Message: "event without a meet link", Retryable: true}
	}
	// Meet confirms neither encryption nor a waiting room per meeting; Meet has no
	// waiting room, and nothing is claimed that the answer does not say.
	return Meeting{ID: ev.Id, JoinURL: link, HostURL: link, Platform: meetPlatform}, nil
}

// HostLink returns the meeting's link: in Meet the host is whoever owns the calendar,
// signed in to Google, so the link itself is not a credential.
func (m *Meet) HostLink(ctx context.Context, meetingID string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	ev, err := m.svc.Events.Get(m.cfg.CalendarID, meetingID).Context(ctx).Do()
	if err != nil {
		return "", meetError("host link", err)
	}
	mt, err := meetMeeting("host link", ev)
	return mt.HostURL, err
}

// UpdateMeeting moves the event to the request's start and duration.
func (m *Meet) UpdateMeeting(ctx context.Context, meetingID string, req MeetingRequest) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	patch := &calendar.Event{
		Start: eventTime(req.Start, req.Timezone),
		End: eventTime(req.Start.Add(time.Duration(req.DurationMinutes)*time.Minute),
			req.Timezone),
	}
	_, err := m.svc.Events.Patch(m.cfg.CalendarID, meetingID, patch).SendUpdates("none").
		Context(ctx).Do()
	return meetError("update meeting", err)
}

// EndMeeting is not offered: Calendar cannot end a conference in progress. The
// error is permanent so that callers stop asking.
func (m *Meet) EndMeeting(ctx context.Context, meetingID string) error {
	return &Error{Op: "end meeting", Message: "not offered by google meet"}
}

// DeleteMeeting deletes the event, and with it the conference's calendar entry. An
// event already gone counts as deleted.
func (m *Meet) DeleteMeeting(ctx context.Context, meetingID string) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	err := m.svc.Events.Delete(m.cfg.CalendarID, meetingID).SendUpdates("none").
		Context(ctx).Do()
	if gerr, ok := errors.AsType[*googleapi.Error](err); ok &&
		(gerr.Code == http.StatusNotFound || gerr.Code == http.StatusGone) {
		return nil
	}
	return meetError("delete meeting", err)
}

// DeleteRecording is not offered: Meet recordings land in the organizer's Drive,
// which this client has no access to. The error is permanent.
func (m *Meet) DeleteRecording(ctx context.Context, meetingUUID string) error {
	return &Error{Op: "delete recording", Message: "not offered by google meet"}
}

// meetError classifies a Calendar API error; Google's message is left out.
func meetError(op string, err error) error {
	if err == nil {
		return nil
	}
	gerr, ok := errors.AsType[*googleapi.Error](err)
	if !ok {
		msg := "no response"
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "timeout"
		}
		return &Error{Op: op, Message: msg, Retryable: true, Err: err}
	}
	e := &Error{Op: op, Status: gerr.Code}
	if len(gerr.Errors) > 0 {
		e.Message = gerr.Errors[0].Reason
	}
	switch {
	case gerr.Code == http.StatusTooManyRequests || gerr.Code == http.StatusRequestTimeout:
		e.Retryable = true
		e.RetryAfter = retryAfter(gerr.Header.Get("Retry-After"), time.Now())
	case gerr.Code >= 500:
		e.Retryable = true
	}
	return e
}
