package video

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"
)

const doxyPlatform = "doxy"

// DoxyConfig configures the Doxy.me platform.
type DoxyConfig struct {
	// RoomURL is the provider's persistent room, e.g. https://doxy.me/drsmith.
	RoomURL string
	// ProviderURL is where the provider signs in to open the room; default
	// https://doxy.me/sign-in.
	ProviderURL string
	HTTP        *http.Client // must have a timeout
}

// Doxy is the Platform for Doxy.me. Doxy.me rooms are persistent per provider and it
// offers no API to create, move, end or delete a meeting: patients check in to the
// provider's room, wait in its waiting room, and are admitted by the provider. So
// CreateMeeting checks that the room exists and hands out a check-in link carrying an
// opaque patient reference (the ?pid= parameter Doxy.me records for integrations; a
// hash of the session id, no PHI). Update and Delete succeed with nothing to do, and
// EndMeeting is refused as not offered.
type Doxy struct {
	cfg DoxyConfig
}

// NewDoxy returns the Doxy.me platform; it makes no network call.
func NewDoxy(cfg DoxyConfig) (*Doxy, error) {
	u, err := url.Parse(cfg.RoomURL)
	if err != nil || u.Host == "" || u.Path == "" || u.Path == "/" || u.RawQuery != "" {
		return nil, errors.New("video platform: doxy room url must be a room's address")
	}
	cfg.ProviderURL = cmp.Or(cfg.ProviderURL, "https://doxy.me/sign-in")
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	return &Doxy{cfg: cfg}, nil
}

// doxyRef is the opaque patient reference of a session.
func doxyRef(sessionID string) string {
	sum := sha256.Sum256([]byte("doxy:" + sessionID))
	return hex.EncodeToString(sum[:8])
}

// CreateMeeting checks that the room answers and returns the session's links.
func (d *Doxy) CreateMeeting(ctx context.Context, req MeetingRequest) (Meeting, error) {
	const op = "create meeting"
	if req.SessionID == "" {
		return Meeting{}, &Error{Op: op, Message: "no session id"}
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, d.cfg.RoomURL, nil)
	if err != nil {
		return Meeting{}, &Error{Op: op, Message: "invalid room url"}
	}
	resp, err := d.cfg.HTTP.Do(r)
	if err != nil {
		msg := "no response"
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			msg = "timeout"
		}
		return Meeting{}, &Error{Op: op, Message: msg, Retryable: true, Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return Meeting{}, &Error{Op: op, Status: resp.StatusCode, Message: "room not found"}
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return Meeting{}, &Error{Op: op, Status: resp.StatusCode, Retryable: true,
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return Meeting{}, &Error{Op: op, Status: resp.StatusCode}
	}

	ref := doxyRef(req.SessionID)
	join, _ := url.Parse(d.cfg.RoomURL)
	join.RawQuery = url.Values{"pid": {ref}}.Encode()
	return Meeting{
		ID:       "doxy-" + ref,
		JoinURL:  join.String(),
		HostURL:  d.cfg.ProviderURL,
		Platform: doxyPlatform,
		// Properties of every Doxy.me room rather than answers about this one: calls
		// are encrypted WebRTC, and patients always wait in the room's waiting room.
		Security: Security{EncryptionEnabled: true, WaitingRoomEnabled: true},
	}, nil
}

func isTimeout(err error) bool {
	t, ok := errors.AsType[interface {
		error
		Timeout() bool
	}](err)
	return ok && t.Timeout()
}

// HostLink returns where the provider signs in; it is not a credential.
func (d *Doxy) HostLink(ctx context.Context, meetingID string) (string, error) {
	return d.cfg.ProviderURL, nil
}

// UpdateMeeting succeeds with nothing to do: the room has no schedule.
func (d *Doxy) UpdateMeeting(ctx context.Context, meetingID string, req MeetingRequest) error {
	return nil
}

// EndMeeting is not offered by Doxy.me: the provider ends the call in the room.
func (d *Doxy) EndMeeting(ctx context.Context, meetingID string) error {
	return &Error{Op: "end meeting", Message: "not offered by doxy.me"}
}

// DeleteMeeting succeeds with nothing to do: the room stays, and the session's link
// only records a reference.
func (d *Doxy) DeleteMeeting(ctx context.Context, meetingID string) error {
	return nil
}

// DeleteRecording is not offered: Doxy.me keeps no cloud recordings for us to delete.
func (d *Doxy) DeleteRecording(ctx context.Context, meetingUUID string) error {
	return &Error{Op: "delete recording", Message: "not offered by doxy.me"}
}
