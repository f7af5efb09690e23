package video_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/auth/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"

	"github.com/telehealth/sessions/internal/integrations/vendortest"
	"github.com/telehealth/sessions/internal/video"
)

var req = video.MeetingRequest{
	SessionID:       "SESSION-1730851234567-a3f7k2",
	Start:           time.Date(2027, 3, 4, 20, 30, 0, 0, time.UTC),
	DurationMinutes: 30,
	Timezone:        "America/New_York",
}

func TestDoxy(t *testing.T) {
	srv := vendortest.NewDoxy(t, "drsmith")
	d, err := video.NewDoxy(video.DoxyConfig{RoomURL: srv.RoomURL(),
		HTTP: &http.Client{Timeout: 300 * time.Millisecond}})
	require.NoError(t, err)

	m, err := d.CreateMeeting(t.Context(), req)
	require.NoError(t, err)
	u, err := url.Parse(m.JoinURL)
	require.NoError(t, err)
	assert.Equal(t, "/drsmith", u.Path)
	assert.Equal(t, []string{"pid"}, keys(u.Query()), "an opaque reference only")
	assert.NotContains(t, m.JoinURL, req.SessionID)
	assert.Equal(t, "https://doxy.me/sign-in", m.HostURL)
	assert.True(t, m.Security.WaitingRoomEnabled)

	again, err := d.CreateMeeting(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, m, again, "the same session gets the same links")
	assert.NoError(t, d.UpdateMeeting(t.Context(), m.ID, req))
	assert.NoError(t, d.DeleteMeeting(t.Context(), m.ID))
	var verr *video.Error
	require.True(t, errors.As(d.EndMeeting(t.Context(), m.ID), &verr))
	assert.False(t, verr.Retryable, "not offered: permanent")
}

func TestDoxyFailures(t *testing.T) {
	cases := map[string]struct {
		room      string
		fault     *vendortest.Fault
		retryable bool
		after     time.Duration
	}{
		"unknown room is permanent": {room: "/nobody"},
		"rate limit is retried": {fault: &vendortest.Fault{Status: 429, RetryAfter: "4"},
			retryable: true, after: 4 * time.Second},
		"server error is retried": {fault: &vendortest.Fault{Status: 502}, retryable: true},
		"timeout is retried": {fault: &vendortest.Fault{Status: 200, Delay: 2 * time.Second},
			retryable: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv := vendortest.NewDoxy(t, "drsmith")
			if c.fault != nil {
				srv.Inject(*c.fault)
			}
			room := srv.RoomURL()
			if c.room != "" {
				room = srv.URL() + c.room
			}
			d, err := video.NewDoxy(video.DoxyConfig{RoomURL: room,
				HTTP: &http.Client{Timeout: 300 * time.Millisecond}})
			require.NoError(t, err)
			_, err = d.CreateMeeting(t.Context(), req)
			var verr *video.Error
			require.True(t, errors.As(err, &verr), "got %v", err)
			assert.Equal(t, c.retryable, verr.Retryable)
			assert.Equal(t, c.after, verr.RetryAfter)
		})
	}
}

func newMeet(t *testing.T, g *vendortest.Google) *video.Meet {
	t.Helper()
	creds, err := credentials.NewCredentialsFromFile(credentials.ServiceAccount,
		g.CredentialsFile(t), &credentials.DetectOptions{
			Scopes: []string{video.MeetScope},
			Client: &http.Client{Timeout: 2 * time.Second},
		})
	require.NoError(t, err)
	m, err := video.NewMeet(t.Context(), video.MeetConfig{
		CalendarID: "clinic@example.org", Timeout: 300 * time.Millisecond,
		Options: []option.ClientOption{option.WithAuthCredentials(creds),
			option.WithEndpoint(g.URL() + "/calendar/v3/")},
	})
	require.NoError(t, err)
	return m
}

func TestMeet(t *testing.T) {
	g := vendortest.NewGoogle(t, "unused", nil)
	meet := newMeet(t, g)

	m, err := meet.CreateMeeting(t.Context(), req)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(m.JoinURL, "https://meet.google.com/"), m.JoinURL)
	assert.Equal(t, m.JoinURL, m.HostURL)
	assert.Equal(t, "meet", m.Platform)
	assert.False(t, m.Security.WaitingRoomEnabled, "Meet has none")

	events := g.Events("clinic@example.org")
	require.Len(t, events, 1)
	ev := events[m.ID]
	require.NotNil(t, ev)
	assert.Equal(t, "private", ev["visibility"])
	assert.Equal(t, "2027-03-04T20:30:00Z", ev["start"].(map[string]any)["dateTime"])
	assert.Equal(t, "2027-03-04T21:00:00Z", ev["end"].(map[string]any)["dateTime"])
	cr := ev["conferenceData"].(map[string]any)["createRequest"].(map[string]any)
	assert.Equal(t, req.SessionID, cr["requestId"])
	post := g.Requests()[1]
	assert.Contains(t, post.Query, "conferenceDataVersion=1")

	again, err := meet.CreateMeeting(t.Context(), req)
	require.NoError(t, err, "a retry adopts the event")
	assert.Equal(t, m, again)
	assert.Len(t, g.Events("clinic@example.org"), 1, "no second event")

	link, err := meet.HostLink(t.Context(), m.ID)
	require.NoError(t, err)
	assert.Equal(t, m.JoinURL, link)

	moved := req
	moved.Start = moved.Start.Add(time.Hour)
	require.NoError(t, meet.UpdateMeeting(t.Context(), m.ID, moved))
	ev = g.Events("clinic@example.org")[m.ID]
	assert.Equal(t, "2027-03-04T21:30:00Z", ev["start"].(map[string]any)["dateTime"])

	var verr *video.Error
	require.True(t, errors.As(meet.EndMeeting(t.Context(), m.ID), &verr))
	assert.False(t, verr.Retryable)
	require.NoError(t, meet.DeleteMeeting(t.Context(), m.ID))
	require.NoError(t, meet.DeleteMeeting(t.Context(), m.ID), "already gone is deleted")
	assert.Empty(t, g.Events("clinic@example.org"))
}

func TestMeetFailures(t *testing.T) {
	cases := map[string]struct {
		fault     vendortest.Fault
		retryable bool
		status    int
	}{
		"forbidden is permanent": {fault: vendortest.Fault{Status: 403}, status: 403},
		"rate limit is retried": {fault: vendortest.Fault{Status: 429}, retryable: true,
			status: 429},
		"server error is retried": {fault: vendortest.Fault{Status: 500}, retryable: true,
			status: 500},
		"timeout is retried": {fault: vendortest.Fault{Status: 200, Delay: 2 * time.Second},
			retryable: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			g := vendortest.NewGoogle(t, "unused", nil)
			meet := newMeet(t, g)
			g.Inject(c.fault)
			_, err := meet.CreateMeeting(t.Context(), req)
			var verr *video.Error
			require.True(t, errors.As(err, &verr), "got %v", err)
			assert.Equal(t, c.retryable, verr.Retryable)
			assert.Equal(t, c.status, verr.Status)
		})
	}
}

func keys(v url.Values) []string {
	var out []string
	for k := range v {
		out = append(out, k)
	}
	return out
}
