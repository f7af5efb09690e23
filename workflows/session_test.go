package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/session"
	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/workflows"
)

var (
	start0 = time.Date(2027, 3, 1, 14, 0, 0, 0, time.UTC)
	acts   *activities.Activities
)

func input() workflows.SessionInput {
	return workflows.SessionInput{
		Booking: session.Booking{
			BookingID:       "BOOK-1",
			PatientEmail:    "sarah.johnson@example.com",
			PatientName:     "Sarah Johnson",
			PatientPhone:    "+15551234567",
			ProviderName:    "Dr. Smith",
			ProviderEmail:   "dr.smith@clinic.example",
			ScheduledStart:  start0.Add(2 * time.Hour),
			DurationMinutes: 30,
		},
		ClientIP: "203.0.113.9",
		Policy: workflows.Policy{
			BufferMinutes:   5,
			FollowUpDelay:   24 * time.Hour,
			SessionFeeCents: 7500,
			PastTolerance:   5 * time.Minute,
		},
	}
}

// fanOutAt is when a new session's messages go: a millisecond after its start, in
// the workflow task after the one that answers the caller.
var fanOutAt = start0.Add(time.Millisecond)

var meeting = video.Meeting{
	ID:       "81234567890",
	JoinURL:  "https://zoom.us/j/81234567890?pwd=abc",
	HostURL:  "https://zoom.us/s/81234567890?zak=secret",
	Platform: "zoom",
	Security: video.Security{EncryptionEnabled: true, WaitingRoomEnabled: true},
}

// calls records when each activity ran, in workflow time.
type calls struct {
	mu   sync.Mutex
	at   map[string][]time.Time
	rows []activities.LogRow
	// args keeps each call's argument, by activity name.
	args map[string][]any
}

func (c *calls) arg(env *testsuite.TestWorkflowEnvironment, name string, v any) {
	c.add(env, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.args[name] = append(c.args[name], v)
}

func (c *calls) add(env *testsuite.TestWorkflowEnvironment, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at[name] = append(c.at[name], env.Now().UTC())
}

// bareEnv is a quiet test environment at start0 with the activities registered and none
// mocked.
func bareEnv() *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start0)
	env.RegisterActivity(acts)
	return env
}

// newEnv mocks every activity as succeeding and records when each ran.
func newEnv() (*testsuite.TestWorkflowEnvironment, *calls) {
	return newEnvMeeting(nil)
}

// newEnvMeeting is newEnv with create, when not nil, as the platform's CreateMeeting.
func newEnvMeeting(
	create func(activities.CreateMeetingInput) (video.Meeting, error),
) (*testsuite.TestWorkflowEnvironment, *calls) {
	env := bareEnv()
	c := &calls{at: map[string][]time.Time{}, args: map[string][]any{}}

	env.OnActivity(acts.CreateMeeting, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CreateMeetingInput) (video.Meeting, error) {
			c.add(env, "CreateMeeting")
			if create != nil {
				return create(in)
			}
			return meeting, nil
		})
	env.OnActivity(acts.RecordSession, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r activities.LogRow) error {
			c.add(env, "RecordSession")
			c.mu.Lock()
			c.rows = append(c.rows, r)
			c.mu.Unlock()
			return nil
		})
	for _, name := range []string{"SendInviteEmail", "SendInviteSMS"} {
		env.OnActivity(name, mock.Anything, mock.Anything).Return(
			func(context.Context, activities.Invite) error { c.add(env, name); return nil })
	}
	env.OnActivity(acts.NotifyStaff, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notice) error {
			c.arg(env, "NotifyStaff", n)
			return nil
		})
	env.OnActivity(acts.TriggerBilling, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r activities.BillingRequest) error {
			c.arg(env, "TriggerBilling", r)
			return nil
		})
	mockVisit(env, c)
	env.OnActivity(acts.TriggerFollowUp, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.FollowUpRequest) error {
			c.add(env, "TriggerFollowUp")
			return nil
		})
	return env, c
}

// termsOf is what the API sends for a repeat of the booking in.
func termsOf(in workflows.SessionInput) workflows.BookingTerms {
	return workflows.BookingTerms{
		DurationMinutes: in.Booking.DurationMinutes,
		Fingerprint:     in.Booking.Fingerprint(),
	}
}

func query(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.State {
	t.Helper()
	v, err := env.QueryWorkflow(workflows.SessionQuery)
	require.NoError(t, err)
	var s workflows.State
	require.NoError(t, v.Get(&s))
	return s
}

func TestLifecycleRunsToFollowUp(t *testing.T) {
	env, c := newEnv()
	in := input()

	var links workflows.Links
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.CreateSessionUpdate, "create", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("update rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				links = v.(workflows.Links)
			},
		}, termsOf(input()))
	}, 0)
	// Mid-visit: the meeting exists and the session waits for its end.
	env.RegisterDelayedCallback(func() {
		s := query(t, env)
		assert.Equal(t, workflows.StatusInProgress, s.Status)
		assert.Equal(t, workflows.DeliverySent, s.Deliveries.PatientEmail.Status)
		assert.Equal(t, workflows.DeliverySent, s.Deliveries.PatientSMS.Status)
		assert.Equal(t, workflows.DeliverySent, s.Deliveries.StaffNotice.Status)
		assert.Equal(t, workflows.DeliveryPending, s.Deliveries.Billing.Status)
	}, 2*time.Hour+10*time.Minute)
	playVisit(env, normalVisit())

	env.ExecuteWorkflow(workflows.SessionLifecycle, in)

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	env.AssertExpectations(t)
	var final workflows.State
	require.NoError(t, env.GetWorkflowResult(&final))

	assert.Regexp(t, regexp.MustCompile(`^SESSION-\d{13}-[0-9a-z]{6}$`), final.SessionID)
	assert.Equal(t, workflows.StatusCompleted, final.Status)
	assert.Equal(t, workflows.DeliverySent, final.Deliveries.Billing.Status)
	assert.Equal(t, workflows.DeliverySent, final.Deliveries.FollowUp.Status)

	assert.Equal(t, final.SessionID, links.SessionID)
	assert.Equal(t, meeting.JoinURL, links.MeetingURL, "patient link exactly as given")
	assert.Equal(t, meeting.HostURL, links.ProviderURL)
	assert.True(t, links.Security.WaitingRoomEnabled)
	assert.Equal(t, final.SessionID, links.TraceID, "trace id defaults to the session id")

	// Billing once the meeting has ended and the host has not come back; follow-up
	// 24 h after billing.
	end := in.Booking.ScheduledStart.Add(30 * time.Minute)
	require.Len(t, c.at["TriggerBilling"], 1)
	assert.Equal(t, end.Add(workflows.DefaultRejoinGrace), c.at["TriggerBilling"][0])
	require.Len(t, c.at["TriggerFollowUp"], 1)
	assert.Equal(t, end.Add(workflows.DefaultRejoinGrace+24*time.Hour),
		c.at["TriggerFollowUp"][0])

	// The fan-out ran right after the meeting, in the task after the caller's answer,
	// all at the same workflow time.
	for _, name := range []string{"SendInviteEmail", "SendInviteSMS", "NotifyStaff"} {
		require.NotEmpty(t, c.at[name], name)
		assert.Equal(t, fanOutAt, c.at[name][0], name)
	}
	require.Len(t, c.rows, 3)
	assert.Equal(t, "SCHEDULED", c.rows[0].Status)
	assert.Equal(t, "ENDED", c.rows[1].Status)
	assert.Equal(t, "COMPLETED", c.rows[2].Status)
	assert.Equal(t, "203.0.113.9", c.rows[0].ClientIP)
}

func TestSMSSkippedWithoutPhone(t *testing.T) {
	env, c := newEnv()
	in := input()
	in.Booking.PatientPhone = ""

	env.ExecuteWorkflow(workflows.SessionLifecycle, in)

	require.NoError(t, env.GetWorkflowError())
	var final workflows.State
	require.NoError(t, env.GetWorkflowResult(&final))
	assert.Equal(t, workflows.DeliverySkipped, final.Deliveries.PatientSMS.Status)
	assert.Empty(t, c.at["SendInviteSMS"])
}

func TestConflictingTermsAreRejected(t *testing.T) {
	in := input()
	otherTime := termsOf(in)
	otherTime.ScheduledStart = in.Booking.ScheduledStart.Add(time.Hour)
	otherPatient := in
	otherPatient.Booking.PatientEmail = "someone.else@example.com"

	for name, terms := range map[string]workflows.BookingTerms{
		"another time":    otherTime,
		"another patient": termsOf(otherPatient),
	} {
		t.Run(name, func(t *testing.T) {
			env, _ := newEnv()
			var rejected error
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(workflows.CreateSessionUpdate, "again",
					&testsuite.TestUpdateCallback{
						OnReject:   func(err error) { rejected = err },
						OnAccept:   func() { t.Error("conflicting update accepted") },
						OnComplete: func(any, error) {},
					}, terms)
			}, time.Minute)
			env.ExecuteWorkflow(workflows.SessionLifecycle, in)

			var app *temporal.ApplicationError
			require.True(t, errors.As(rejected, &app), "got %v", rejected)
			assert.Equal(t, workflows.ErrTypeBookingConflict, app.Type())
		})
	}
}

func TestPlatformRejectionFailsVisibly(t *testing.T) {
	env := bareEnv()

	env.OnActivity(acts.CreateMeeting, mock.Anything, mock.Anything).Return(
		video.Meeting{}, temporal.NewNonRetryableApplicationError(
			"video platform: create meeting: status 400 code 300",
			activities.ErrTypePlatformRejected, nil)).Once()
	var notice activities.Notice
	env.OnActivity(acts.NotifyStaff, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notice) error { notice = n; return nil }).Once()
	var row activities.LogRow
	env.OnActivity(acts.RecordSession, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r activities.LogRow) error { row = r; return nil }).Once()

	var updateErr error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.CreateSessionUpdate, "create", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("rejected: %v", err) },
			OnAccept:   func() {},
			OnComplete: func(_ any, err error) { updateErr = err },
		}, termsOf(input()))
	}, 0)
	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	require.Error(t, env.GetWorkflowError())
	var app *temporal.ApplicationError
	require.True(t, errors.As(updateErr, &app), "update error %v", updateErr)
	assert.Equal(t, workflows.ErrTypeMeetingFailed, app.Type())

	assert.Equal(t, "FAILED", row.Status)
	assert.Equal(t, "Telehealth session failed", notice.Event)
	assert.Contains(t, notice.Failure, "status 400")
	assert.Equal(t, "s***n@example.com", notice.MaskedEmail)
	assert.NotContains(t, notice.MaskedName, "Sarah")
	env.AssertExpectations(t)
}

func TestFailedSideEffectDoesNotStopTheSession(t *testing.T) {
	env, events := invitesEnv(
		temporal.NewNonRetryableApplicationError("recipient rejected",
			activities.ErrTypeDeliveryRejected, nil),
		nil)

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	require.NoError(t, env.GetWorkflowError())
	var final workflows.State
	require.NoError(t, env.GetWorkflowResult(&final))
	assert.Equal(t, workflows.StatusCompleted, final.Status)
	assert.Equal(t, workflows.DeliveryFailed, final.Deliveries.PatientEmail.Status)
	assert.Contains(t, final.Deliveries.PatientEmail.Error, activities.ErrTypeDeliveryRejected)
	assert.Equal(t, workflows.DeliverySent, final.Deliveries.Billing.Status)
	assert.ElementsMatch(t, []string{"Telehealth session created",
		"Telehealth patient email failed", "Telehealth patient in the waiting room"},
		*events, "staff hear of the failure")
}

// invitesEnv plays a normal visit with every activity succeeding but the patient's
// invitations, which answer email and sms (an error, or a function of the Invite);
// events collects the staff notices.
func invitesEnv(email, sms any) (env *testsuite.TestWorkflowEnvironment, events *[]string) {
	env = bareEnv()
	events = new([]string)
	env.OnActivity(acts.CreateMeeting, mock.Anything, mock.Anything).Return(meeting, nil)
	env.OnActivity(acts.SendInviteEmail, mock.Anything, mock.Anything).Return(email)
	env.OnActivity(acts.SendInviteSMS, mock.Anything, mock.Anything).Return(sms)
	env.OnActivity(acts.NotifyStaff, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notice) error {
			*events = append(*events, n.Event)
			return nil
		})
	env.OnActivity(acts.RecordSession, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.TriggerBilling, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.TriggerFollowUp, mock.Anything, mock.Anything).Return(nil)
	mockVisit(env, &calls{at: map[string][]time.Time{}, args: map[string][]any{}})
	playVisit(env, normalVisit())
	return env, events
}

func TestInvalidBookingFailsWithoutAMeeting(t *testing.T) {
	env := bareEnv()
	env.OnActivity(acts.NotifyStaff, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.RecordSession, mock.Anything, mock.Anything).Return(nil)

	in := input()
	in.Booking.DurationMinutes = 500
	env.ExecuteWorkflow(workflows.SessionLifecycle, in)

	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	assert.Equal(t, workflows.ErrTypeInvalidBooking, app.Type())
	env.AssertNotCalled(t, "CreateMeeting", mock.Anything, mock.Anything)
}

func TestWorkflowIDHasNoBookingText(t *testing.T) {
	id := workflows.WorkflowID("BOOK-sarah.johnson@example.com")
	assert.Regexp(t, `^session-[0-9a-f]{24}$`, id)
	assert.Equal(t, id, workflows.WorkflowID("BOOK-sarah.johnson@example.com"))
	assert.NotEqual(t, id, workflows.WorkflowID("BOOK-2"))
}
