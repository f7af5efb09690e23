package activities_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/internal/video/sandbox"
)

// launchLinks makes recognisable launch links.
type launchLinks struct{}

func (launchLinks) URL(sessionID, meetingID string) string {
	return "https://api.example/launch/" + sessionID + "/" + meetingID
}

// capture is a sink that keeps what it is given.
type capture struct {
	emails  []activities.Email
	sms     []activities.SMS
	notices []activities.StaffNotice
	err     error
}

func (c *capture) SendEmail(_ context.Context, m activities.Email) error {
	c.emails = append(c.emails, m)
	return c.err
}

func (c *capture) SendSMS(_ context.Context, m activities.SMS) error {
	c.sms = append(c.sms, m)
	return c.err
}

func (c *capture) Notify(_ context.Context, n activities.StaffNotice) error {
	c.notices = append(c.notices, n)
	return c.err
}

func env(a *activities.Activities) *testsuite.TestActivityEnvironment {
	var suite testsuite.WorkflowTestSuite
	e := suite.NewTestActivityEnvironment()
	e.RegisterActivity(a)
	return e
}

// zoomOnSandbox is the real Zoom client against the sandbox, as the default run has it.
func zoomOnSandbox(t *testing.T) (*video.Zoom, *sandbox.Server) {
	sb, err := sandbox.New(sandbox.Options{AccountID: "a", ClientID: "c", ClientSecret: "s"})
	require.NoError(t, err)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return video.NewZoom(video.ZoomConfig{
		APIURL: srv.URL + "/v2", OAuthURL: srv.URL + "/oauth/token",
		AccountID: "a", ClientID: "c", ClientSecret: "s", UserID: "dr@clinic.example",
	}), sb
}

var meetingInput = activities.CreateMeetingInput{
	SessionID:       "SESSION-1730851234567-a3f7k2",
	Start:           time.Now().Add(time.Hour).UTC().Truncate(time.Second),
	DurationMinutes: 30,
}

func TestCreateMeetingClassifiesPlatformFaults(t *testing.T) {
	cases := map[string]struct {
		fault     sandbox.Fault
		retryable bool
		delay     time.Duration
	}{
		"bad request is permanent": {fault: sandbox.Fault{Status: 400, Code: 300}},
		"server error is retried":  {fault: sandbox.Fault{Status: 503}, retryable: true},
		"rate limit waits as asked": {
			fault:     sandbox.Fault{Status: 429, RetryAfter: "7"},
			retryable: true,
			delay:     7 * time.Second,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			zoom, sb := zoomOnSandbox(t)
			sb.InjectNext(sandbox.CreateMeeting, 1, c.fault)

			a := &activities.Activities{Video: zoom}
			_, err := env(a).ExecuteActivity(a.CreateMeeting, meetingInput)

			var app *temporal.ApplicationError
			require.True(t, errors.As(err, &app), "got %v", err)
			assert.Equal(t, !c.retryable, app.NonRetryable())
			assert.Equal(t, c.delay, app.NextRetryDelay())
			assert.Empty(t, sb.MeetingIDs())
		})
	}
}

func TestCreateMeetingReturnsThePlatformsLinks(t *testing.T) {
	zoom, sb := zoomOnSandbox(t)

	a := &activities.Activities{Video: zoom, Launch: launchLinks{}}
	v, err := env(a).ExecuteActivity(a.CreateMeeting, meetingInput)

	require.NoError(t, err)
	var m video.Meeting
	require.NoError(t, v.Get(&m))
	assert.Equal(t, sb.MeetingIDs(), []string{m.ID})
	// The platform's start link, a credential, is replaced by our launch link.
	assert.Equal(t, "https://api.example/launch/"+meetingInput.SessionID+"/"+m.ID,
		m.HostURL)
	assert.Contains(t, m.JoinURL, "?pwd=")
	assert.True(t, m.Security.WaitingRoomEnabled)
	assert.True(t, m.Security.EncryptionEnabled)
}

func TestInviteMessages(t *testing.T) {
	c := &capture{}
	a := &activities.Activities{Mail: c, SMS: c,
		Clinic: activities.Clinic{Name: "Hillside Clinic", Phone: "+1-555-0100"}}
	in := activities.Invite{
		SessionID:       "SESSION-1730851234567-a3f7k2",
		Email:           "sarah@example.com",
		Phone:           "+15551234567",
		MeetingURL:      "https://zoom.us/j/1?pwd=x",
		Start:           time.Date(2027, 3, 1, 14, 0, 0, 0, time.UTC),
		Timezone:        "America/New_York",
		DurationMinutes: 45,
		Security:        video.Security{WaitingRoomEnabled: true},
	}
	e := env(a)

	_, err := e.ExecuteActivity(a.SendInviteEmail, in)
	require.NoError(t, err)
	_, err = e.ExecuteActivity(a.SendInviteSMS, in)
	require.NoError(t, err)

	require.Len(t, c.emails, 1)
	mail := c.emails[0]
	assert.Equal(t, "sarah@example.com", string(mail.To))
	assert.Contains(t, mail.Text, "Join: https://zoom.us/j/1?pwd=x\n")
	assert.Contains(t, mail.Text, "9:00 AM EST", "the patient's own time zone")
	assert.Contains(t, mail.Text, "45 minutes")
	assert.Contains(t, mail.Text, "waiting room")
	assert.NotContains(t, mail.Text, "encrypted", "only what the platform confirmed")
	assert.Contains(t, mail.Text, in.SessionID)
	assert.Contains(t, mail.Text, "+1-555-0100")
	require.Len(t, c.sms, 1)
	assert.Contains(t, c.sms[0].Text, in.MeetingURL)
}

func TestStaffNoticeCarriesNoLinks(t *testing.T) {
	c := &capture{}
	a := &activities.Activities{Staff: c}
	_, err := env(a).ExecuteActivity(a.NotifyStaff, activities.Notice{
		SessionID:   "SESSION-1730851234567-a3f7k2",
		Event:       "Telehealth session created",
		MaskedEmail: "s***h@example.com",
		Start:       time.Date(2027, 3, 1, 14, 0, 0, 0, time.UTC),
	})
	require.NoError(t, err)
	require.Len(t, c.notices, 1)
	text := strings.Join(c.notices[0].Lines, "\n")
	assert.Contains(t, text, "s***h@example.com")
	assert.NotContains(t, text, "http")
}

func TestRejectedDeliveryIsPermanent(t *testing.T) {
	c := &capture{err: &activities.PermanentError{Err: errors.New("invalid recipient")}}
	a := &activities.Activities{Staff: c}
	_, err := env(a).ExecuteActivity(a.NotifyStaff, activities.Notice{SessionID: "S"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	assert.True(t, app.NonRetryable())
	assert.Equal(t, activities.ErrTypeDeliveryRejected, app.Type())

	c.err = &http.MaxBytesError{}
	_, err = env(a).ExecuteActivity(a.NotifyStaff, activities.Notice{SessionID: "S"})
	require.True(t, errors.As(err, &app))
	assert.False(t, app.NonRetryable(), "other faults are retried")
}

func TestProviderEmailMasksThePatient(t *testing.T) {
	c := &capture{}
	a := &activities.Activities{Mail: c, Clinic: activities.Clinic{Name: "Hillside Clinic"}}
	in := activities.ProviderInvite{
		SessionID:       "SESSION-1730851234567-a3f7k2",
		ProviderEmail:   "dr.smith@clinic.example",
		ProviderName:    "Dr. Smith",
		PatientMasked:   "S*** J***",
		ProviderURL:     "https://zoom.us/s/1?zak=abc",
		Start:           time.Date(2027, 3, 1, 14, 0, 0, 0, time.UTC),
		Timezone:        "America/New_York",
		DurationMinutes: 30,
	}
	_, err := env(a).ExecuteActivity(a.SendProviderEmail, in)
	require.NoError(t, err)

	require.Len(t, c.emails, 1)
	m := c.emails[0]
	assert.Equal(t, "dr.smith@clinic.example", string(m.To))
	assert.Contains(t, m.Subject, "S*** J***")
	for _, part := range []string{m.Subject, m.Text, m.HTML} {
		assert.NotContains(t, part, "Sarah")
		assert.NotContains(t, part, "Johnson")
	}
	assert.Contains(t, m.Text, "Start the session: https://zoom.us/s/1?zak=abc")
	assert.Contains(t, m.HTML, `href="https://zoom.us/s/1?zak=abc"`)
	assert.Contains(t, m.Text, "9:00 AM EST")
	assert.Contains(t, m.Text, "A3F-7K2")

	in.ProviderEmail = ""
	_, err = env(a).ExecuteActivity(a.SendProviderEmail, in)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	assert.True(t, app.NonRetryable(), "no address: nothing to retry")
}

func TestPatientEmailHasHTML(t *testing.T) {
	c := &capture{}
	a := &activities.Activities{Mail: c, Clinic: activities.Clinic{Name: "A & B Clinic"}}
	_, err := env(a).ExecuteActivity(a.SendInviteEmail, activities.Invite{
		SessionID: "SESSION-1730851234567-a3f7k2", Email: "sarah@example.com",
		MeetingURL: "https://zoom.us/j/1?pwd=x&a=b", Start: time.Now().Add(time.Hour),
		DurationMinutes: 30, Security: video.Security{EncryptionEnabled: true},
	})
	require.NoError(t, err)
	html := c.emails[0].HTML
	assert.Contains(t, html, `href="https://zoom.us/j/1?pwd=x&amp;a=b"`)
	assert.Contains(t, html, "A &amp; B Clinic", "escaped")
	assert.Contains(t, html, "<li>encrypted</li>")
}

func TestVendorFaultsAreClassified(t *testing.T) {
	c := &capture{err: &vendor.Error{Vendor: "twilio", Op: "send sms", Status: 400,
		Code: 21211}}
	a := &activities.Activities{SMS: c}
	in := activities.Invite{SessionID: "S", Phone: "+15551234567"}
	_, err := env(a).ExecuteActivity(a.SendInviteSMS, in)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	assert.True(t, app.NonRetryable())
	assert.Equal(t, activities.ErrTypeDeliveryRejected, app.Type())

	c.err = &vendor.Error{Vendor: "twilio", Op: "send sms", Status: 429, Retryable: true,
		RetryAfter: 9 * time.Second}
	_, err = env(a).ExecuteActivity(a.SendInviteSMS, in)
	require.True(t, errors.As(err, &app))
	assert.False(t, app.NonRetryable())
	assert.Equal(t, 9*time.Second, app.NextRetryDelay())
}
