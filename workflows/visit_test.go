package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/workflows"
)

// mockVisit mocks the live visit's activities as succeeding, recording each call.
func mockVisit(env *testsuite.TestWorkflowEnvironment, c *calls) {
	env.OnActivity(acts.EndMeeting, mock.Anything, mock.Anything).Return(
		func(_ context.Context, m activities.MeetingRef) error {
			c.arg(env, "EndMeeting", m)
			return nil
		}).Maybe()
	env.OnActivity(acts.DeleteMeeting, mock.Anything, mock.Anything).Return(
		func(_ context.Context, m activities.MeetingRef) error {
			c.arg(env, "DeleteMeeting", m)
			return nil
		}).Maybe()
	env.OnActivity(acts.UpdateMeeting, mock.Anything, mock.Anything).Return(
		func(_ context.Context, u activities.UpdateMeetingInput) error {
			c.arg(env, "UpdateMeeting", u)
			return nil
		}).Maybe()
	env.OnActivity(acts.SendReminder, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r activities.Reminder) error {
			c.arg(env, "SendReminder", r)
			return nil
		}).Maybe()
	env.OnActivity(acts.SendVisitChange, mock.Anything, mock.Anything).Return(
		func(_ context.Context, v activities.VisitChange) error {
			c.arg(env, "SendVisitChange", v)
			return nil
		}).Maybe()
	env.OnActivity(acts.TextNextInQueue, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.NextText) error {
			c.arg(env, "TextNextInQueue", n)
			return nil
		}).Maybe()
	env.OnActivity(acts.SendProviderEmail, mock.Anything, mock.Anything).Return(
		func(_ context.Context, p activities.ProviderInvite) error {
			c.arg(env, "SendProviderEmail", p)
			return nil
		}).Maybe()
	env.OnActivity(acts.PromoteNextInQueue, mock.Anything, mock.Anything).Return(
		func(_ context.Context, q activities.QueueInput) error {
			c.arg(env, "PromoteNextInQueue", q)
			return nil
		}).Maybe()
}

// begins is the booked start of input(), relative to the test environment's start.
const begins = 2 * time.Hour

// step is a platform event and when it is delivered, relative to the booked start.
type step struct {
	delivered time.Duration
	event     workflows.VisitEvent
}

// ev is an event that happened off after the booked start; who is "host", a patient's
// presence ("patient", "patient2" for a rejoin) or a guest carrying a key.
func ev(typ workflows.EventType, off time.Duration, who string) workflows.VisitEvent {
	e := workflows.VisitEvent{
		Key:       fmt.Sprintf("%s|%s|%d", typ, who, off),
		Type:      typ,
		At:        start0.Add(begins + off),
		MeetingID: meeting.ID,
		Instance:  "instance-A",
	}
	switch {
	case who == "host":
		e.Participant = &workflows.Participant{ID: "host", Host: true}
	case who == "interpreter":
		e.Participant = &workflows.Participant{ID: who, Key: "other-key"}
	case who != "":
		e.Participant = &workflows.Participant{ID: who}
	}
	return e
}

// now delivers events when they happen.
func now(events ...workflows.VisitEvent) []step {
	var s []step
	for _, e := range events {
		s = append(s, step{delivered: e.At.Sub(start0.Add(begins)), event: e})
	}
	return s
}

// normalVisit: the host opens at -2m, the patient waits from -1m, is admitted at +2m,
// leaves at +27m; the host ends the meeting at +30m.
func normalVisit() []step {
	return now(
		ev(workflows.EventMeetingStarted, -2*time.Minute, ""),
		ev(workflows.EventJoined, -2*time.Minute, "host"),
		ev(workflows.EventWaitingJoined, -time.Minute, "patient"),
		ev(workflows.EventAdmitted, 2*time.Minute, "patient"),
		ev(workflows.EventWaitingLeft, 2*time.Minute, "patient"),
		ev(workflows.EventJoined, 2*time.Minute, "patient"),
		ev(workflows.EventLeft, 27*time.Minute, "patient"),
		ev(workflows.EventLeft, 30*time.Minute, "host"),
		ev(workflows.EventMeetingEnded, 30*time.Minute, ""),
	)
}

// playVisit signals each step at its time.
func playVisit(env *testsuite.TestWorkflowEnvironment, steps []step) {
	for _, s := range steps {
		e := s.event
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(workflows.VisitEventSignal, e)
		}, begins+s.delivered)
	}
}

func result(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.State {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var s workflows.State
	require.NoError(t, env.GetWorkflowResult(&s))
	return s
}

func billing(t *testing.T, c *calls) activities.BillingRequest {
	t.Helper()
	require.Len(t, c.args["TriggerBilling"], 1, "billing triggered once")
	return c.args["TriggerBilling"][0].(activities.BillingRequest)
}

func events(c *calls) []string {
	var out []string
	for _, n := range c.args["NotifyStaff"] {
		out = append(out, n.(activities.Notice).Event)
	}
	return out
}

func at(off time.Duration) time.Time { return start0.Add(begins + off) }

func TestNormalVisit(t *testing.T) {
	env, c := newEnv()
	playVisit(env, normalVisit())
	var waiting workflows.State
	env.RegisterDelayedCallback(func() { waiting = query(t, env) }, begins)

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, workflows.StatusCompleted, s.Status)
	att := s.Attendance
	assert.Equal(t, 25, att.BillableMinutes, "patient and provider together +2m..+27m")
	assert.Equal(t, 25*60, att.BillableSeconds)
	assert.Equal(t, 180, att.TotalWaitSeconds)
	assert.Equal(t, at(-2*time.Minute), *att.ActualStart)
	assert.Equal(t, at(30*time.Minute), *att.ActualEnd)
	require.Len(t, att.Patient, 1)
	assert.Equal(t, at(2*time.Minute), att.Patient[0].From)
	require.Len(t, att.Provider, 1)
	require.Len(t, att.WaitingRoom, 1)
	assert.True(t, att.WaitingRoom[0].Admitted)
	assert.Equal(t, 1, att.Instances)
	assert.Equal(t, 9, s.EventsSeen)

	// While the patient waited, the state said so.
	require.NotNil(t, waiting.Attendance.WaitingSince)
	assert.Equal(t, at(-time.Minute), *waiting.Attendance.WaitingSince)
	assert.Equal(t, workflows.StatusInProgress, waiting.Status)

	b := billing(t, c)
	assert.Equal(t, 25, b.DurationMinutes, "billing carries the real duration")
	assert.Equal(t, 30, b.ScheduledMinutes)
	assert.False(t, b.NoShow)
	assert.Equal(t, 7500, b.AmountCents)

	// The reminder went an hour before; staff heard the patient was waiting.
	require.Len(t, c.at["SendReminder"], 1)
	assert.Equal(t, at(-time.Hour), c.at["SendReminder"][0])
	assert.Contains(t, events(c), "Telehealth patient in the waiting room")
	for _, n := range c.args["NotifyStaff"] {
		assert.NotContains(t, n.(activities.Notice).MaskedName, "Sarah")
	}
	require.NotEmpty(t, c.at["PromoteNextInQueue"])
	assert.Equal(t, at(-time.Minute), c.at["PromoteNextInQueue"][0])
	require.Len(t, c.at["TriggerFollowUp"], 1)
	assert.Empty(t, c.at["EndMeeting"])

	// The provider got their own link, in the fan-out.
	require.Len(t, c.args["SendProviderEmail"], 1)
	assert.Equal(t, fanOutAt, c.at["SendProviderEmail"][0])
	p := c.args["SendProviderEmail"][0].(activities.ProviderInvite)
	assert.Equal(t, "dr.smith@clinic.example", p.ProviderEmail)
	assert.Equal(t, meeting.HostURL, p.ProviderURL)
	assert.Equal(t, "S*** J***", p.PatientMasked, "the full name never leaves the workflow")
	assert.Equal(t, workflows.DeliverySent, s.Deliveries.ProviderEmail.Status)
}

func TestProviderEmailSkippedWithoutAddress(t *testing.T) {
	env, c := newEnv()
	in := input()
	in.Booking.ProviderEmail = ""
	env.ExecuteWorkflow(workflows.SessionLifecycle, in)
	s := result(t, env)
	assert.Empty(t, c.at["SendProviderEmail"])
	assert.Equal(t, workflows.DeliverySkipped, s.Deliveries.ProviderEmail.Status)
}

func TestPatientWaitsThenIsAdmitted(t *testing.T) {
	env, c := newEnv()
	playVisit(env, now(
		ev(workflows.EventWaitingJoined, 0, "patient"),
		ev(workflows.EventMeetingStarted, 8*time.Minute, ""),
		ev(workflows.EventJoined, 8*time.Minute, "host"),
		ev(workflows.EventAdmitted, 12*time.Minute, "patient"),
		ev(workflows.EventJoined, 12*time.Minute, "patient"),
		ev(workflows.EventMeetingEnded, 32*time.Minute, ""),
	))
	// The queue says this patient is next while they wait.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.NextInQueueSignal,
			workflows.NextInQueue{WaitingSince: at(0)})
		env.SignalWorkflow(workflows.NextInQueueSignal,
			workflows.NextInQueue{WaitingSince: at(0)})
	}, begins+time.Minute)
	var mid workflows.State
	env.RegisterDelayedCallback(func() { mid = query(t, env) }, begins+10*time.Minute)

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, 12*60, s.Attendance.TotalWaitSeconds)
	assert.True(t, s.Attendance.WaitingRoom[0].Admitted)
	assert.Equal(t, at(12*time.Minute), *s.Attendance.WaitingRoom[0].Left)
	assert.Nil(t, s.Attendance.WaitingSince)
	assert.Equal(t, 20, billing(t, c).DurationMinutes)
	assert.False(t, s.NoShow, "waiting counts as attending")

	// Ten minutes in, still waiting.
	require.NotNil(t, mid.Attendance.WaitingSince)
	assert.Equal(t, at(0), *mid.Attendance.WaitingSince)

	require.Len(t, c.at["TextNextInQueue"], 1, "texted once per stay")
	assert.Equal(t, workflows.DeliverySent, s.Deliveries.NextInQueue.Status)
	assert.Equal(t, workflows.DeliverySent, s.Deliveries.WaitingNotice.Status)
}

func TestHostDropsAndRejoins(t *testing.T) {
	env, c := newEnv()
	second := func(e workflows.VisitEvent) workflows.VisitEvent {
		e.Instance = "instance-B"
		return e
	}
	playVisit(env, now(
		ev(workflows.EventMeetingStarted, 0, ""),
		ev(workflows.EventJoined, 0, "host"),
		ev(workflows.EventJoined, 0, "patient"),
		// The host's connection drops: the meeting ends with everyone in it.
		ev(workflows.EventMeetingEnded, 10*time.Minute, ""),
		// Two minutes later the host starts it again: a new instance.
		second(ev(workflows.EventMeetingStarted, 12*time.Minute, "")),
		second(ev(workflows.EventJoined, 12*time.Minute, "host")),
		second(ev(workflows.EventJoined, 13*time.Minute, "patient2")),
		second(ev(workflows.EventLeft, 31*time.Minute, "patient2")),
		second(ev(workflows.EventMeetingEnded, 31*time.Minute, "")),
	))

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, 2, s.Attendance.Instances)
	assert.Len(t, s.Attendance.Patient, 2)
	assert.Equal(t, at(31*time.Minute), *s.Attendance.ActualEnd)
	b := billing(t, c)
	assert.Equal(t, 28, b.DurationMinutes, "10 + 18 minutes, one visit")
	// Past the scheduled end + buffer, with the meeting over, the visit closes.
	assert.Equal(t, at(35*time.Minute), c.at["TriggerBilling"][0])
}

func TestDuplicateAndOutOfOrderDeliveries(t *testing.T) {
	in := normalVisit()
	var steps []step
	// Everything arrives late, backwards, and twice.
	for i := len(in) - 1; i >= 0; i-- {
		s := in[i]
		s.delivered = 30*time.Minute + time.Duration(len(in)-i)*time.Second
		steps = append(steps, s, s)
	}
	// And once more, in order, an hour later.
	for _, s := range in {
		s.delivered = 31 * time.Minute
		steps = append(steps, s)
	}
	env, c := newEnv()
	playVisit(env, steps)
	playVisit(env, now(ev(workflows.EventWaitingJoined, -time.Minute, "patient")))

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, 9, s.EventsSeen)
	assert.Equal(t, 2*9+1, s.Duplicates)
	assert.Equal(t, 25, s.Attendance.BillableMinutes, "same as in order")
	assert.Equal(t, 180, s.Attendance.TotalWaitSeconds)
	assert.Equal(t, 25, billing(t, c).DurationMinutes)
}

func TestNoShow(t *testing.T) {
	for name, hostOpens := range map[string]bool{"meeting never started": false,
		"provider waited alone": true} {
		t.Run(name, func(t *testing.T) {
			env, c := newEnv()
			if hostOpens {
				playVisit(env, now(
					ev(workflows.EventMeetingStarted, -time.Minute, ""),
					ev(workflows.EventJoined, -time.Minute, "host"),
				))
			}
			env.ExecuteWorkflow(workflows.SessionLifecycle, input())

			s := result(t, env)
			assert.Equal(t, workflows.StatusNoShow, s.Status)
			assert.True(t, s.NoShow)
			// No no-show fee: nothing is billed, and nothing fails to be.
			assert.Empty(t, c.at["TriggerBilling"])
			assert.Equal(t, workflows.DeliverySkipped, s.Deliveries.Billing.Status)
			assert.Equal(t, []string{"Telehealth session created",
				"Telehealth patient did not attend"}, events(c), "no escalation")
			assert.Equal(t, workflows.DeliverySent, s.Deliveries.StaffNotice.Status)
			assert.Empty(t, c.at["TriggerFollowUp"])
			assert.Equal(t, workflows.DeliverySkipped, s.Deliveries.FollowUp.Status)
			if hostOpens {
				require.Len(t, c.at["EndMeeting"], 1, "the open meeting is ended")
				assert.Equal(t, at(workflows.DefaultNoShowGrace), c.at["EndMeeting"][0])
			} else {
				assert.Empty(t, c.at["EndMeeting"])
			}
		})
	}
}

// TestNoShowFee: with a no-show fee, M04 is charged that amount for a no-show, at
// start + grace.
func TestNoShowFee(t *testing.T) {
	env, c := newEnv()
	in := input()
	in.Policy.NoShowFeeCents = 2500

	env.ExecuteWorkflow(workflows.SessionLifecycle, in)

	s := result(t, env)
	assert.Equal(t, workflows.StatusNoShow, s.Status)
	b := billing(t, c)
	assert.Equal(t, 2500, b.AmountCents)
	assert.True(t, b.NoShow)
	assert.Zero(t, b.DurationMinutes)
	assert.Equal(t, "Telehealth no-show on 2027-03-01", b.Description)
	assert.Equal(t, at(workflows.DefaultNoShowGrace), c.at["TriggerBilling"][0])
	assert.Equal(t, workflows.DeliverySent, s.Deliveries.Billing.Status)
}

// TestNoShowBeforeFee: a session recorded before the no-show-fee change keeps
// sending a no-show to billing with amount 0, whatever its policy says.
func TestNoShowBeforeFee(t *testing.T) {
	env, c := newEnv()
	// A live visit of version 1, before the lean version took every change.
	env.OnGetVersion("live-visit", workflow.DefaultVersion, 2).Return(workflow.Version(1))
	env.OnGetVersion("no-show-fee", workflow.DefaultVersion, 1).
		Return(workflow.DefaultVersion)
	in := input()
	in.Policy.NoShowFeeCents = 2500

	env.ExecuteWorkflow(workflows.SessionLifecycle, in)

	s := result(t, env)
	assert.Equal(t, workflows.StatusNoShow, s.Status)
	b := billing(t, c)
	assert.True(t, b.NoShow)
	assert.Zero(t, b.AmountCents)
	assert.Equal(t, workflows.DeliverySent, s.Deliveries.Billing.Status)
}

func TestAutoEnd(t *testing.T) {
	env, c := newEnv()
	steps := now(
		ev(workflows.EventMeetingStarted, 0, ""),
		ev(workflows.EventJoined, 0, "host"),
		ev(workflows.EventJoined, time.Minute, "patient"),
	)
	playVisit(env, steps)
	// The meeting overruns: at end + buffer the session ends it, and the platform
	// reports the end a minute later.
	playVisit(env, now(ev(workflows.EventMeetingEnded, 36*time.Minute, "")))

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	require.Len(t, c.at["EndMeeting"], 1)
	assert.Equal(t, at(35*time.Minute), c.at["EndMeeting"][0], "scheduled end + buffer")
	assert.Equal(t, meeting.ID, c.args["EndMeeting"][0].(activities.MeetingRef).MeetingID)
	assert.Equal(t, at(36*time.Minute), *s.Attendance.ActualEnd)
	assert.Equal(t, 35, billing(t, c).DurationMinutes)
	assert.Equal(t, at(36*time.Minute), c.at["TriggerBilling"][0])
	assert.Equal(t, workflows.StatusCompleted, s.Status)
}

func TestAutoEndWithoutConfirmation(t *testing.T) {
	env, c := newEnv()
	playVisit(env, now(
		ev(workflows.EventMeetingStarted, 0, ""),
		ev(workflows.EventJoined, 0, "host"),
		ev(workflows.EventJoined, 0, "patient"),
	))
	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	closed := 35*time.Minute + workflows.DefaultEndWait
	assert.Equal(t, at(closed), c.at["TriggerBilling"][0], "waits EndWait, then bills")
	assert.Equal(t, int(closed/time.Minute), billing(t, c).DurationMinutes)
	assert.Equal(t, at(closed), *s.Attendance.ActualEnd)
}

func TestRescheduleBeforeStart(t *testing.T) {
	env, c := newEnv()
	newStart := start0.Add(4 * time.Hour) // 18:00, two hours later than booked
	var rejected error
	var after workflows.State
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.RescheduleUpdate, "bad", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { rejected = err },
			OnAccept:   func() { t.Error("bad reschedule accepted") },
			OnComplete: func(any, error) {},
		}, workflows.RescheduleRequest{ScheduledStart: start0, DurationMinutes: 500})
		env.UpdateWorkflow(workflows.RescheduleUpdate, "good", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				after = v.(workflows.State)
			},
		}, workflows.RescheduleRequest{ScheduledStart: newStart, DurationMinutes: 45})
	}, 30*time.Minute)

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	var app *temporal.ApplicationError
	require.True(t, errors.As(rejected, &app), "got %v", rejected)
	assert.Equal(t, workflows.ErrTypeInvalidChange, app.Type())
	assert.Contains(t, app.Message(), "scheduledStart must be in the future")
	assert.Contains(t, app.Message(), "durationMinutes must be from 15 to 120")

	assert.Equal(t, newStart, after.ScheduledStart)
	assert.Equal(t, 45, after.DurationMinutes)
	assert.Equal(t, 1, after.Reschedules)
	require.Len(t, c.args["UpdateMeeting"], 1, "only the valid one reached the platform")
	u := c.args["UpdateMeeting"][0].(activities.UpdateMeetingInput)
	assert.Equal(t, newStart, u.Start)
	assert.Equal(t, 45, u.DurationMinutes)
	require.Len(t, c.args["SendProviderEmail"], 2, "the provider is told again")
	assert.Equal(t, newStart,
		c.args["SendProviderEmail"][1].(activities.ProviderInvite).Start)
	require.Len(t, c.args["SendVisitChange"], 1)
	assert.Equal(t, activities.ChangeRescheduled,
		c.args["SendVisitChange"][0].(activities.VisitChange).Kind)

	// Every timer moved: the reminder an hour before the new start, the no-show after.
	require.Len(t, c.at["SendReminder"], 1)
	assert.Equal(t, newStart.Add(-time.Hour), c.at["SendReminder"][0])
	s := result(t, env)
	assert.Equal(t, workflows.StatusNoShow, s.Status)
	assert.Equal(t, newStart.Add(workflows.DefaultNoShowGrace), s.UpdatedAt)
}

// TestCancelDuringReschedule sends a cancel while a reschedule waits for the platform:
// the cancel wins, and the reschedule answers that it was not done, moving nothing and
// telling nobody.
func TestCancelDuringReschedule(t *testing.T) {
	env, c := newEnv()
	newStart := start0.Add(4 * time.Hour)
	var moveErr error
	var cancelled workflows.State
	moveDone := false
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.RescheduleUpdate, "move", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("reschedule rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(_ any, err error) {
				moveDone = true
				moveErr = err
			},
		}, workflows.RescheduleRequest{ScheduledStart: newStart, DurationMinutes: 45})
		env.UpdateWorkflow(workflows.CancelUpdate, "cancel", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("cancel rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				cancelled = v.(workflows.State)
			},
		}, workflows.CancelRequest{Reason: workflows.CancelByPatient})
	}, 30*time.Minute)

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, workflows.StatusCancelled, s.Status)
	assert.Equal(t, workflows.StatusCancelled, cancelled.Status)
	assert.Equal(t, workflows.CancelByPatient, s.Cancellation.Reason)

	// Nothing moved: the booked start and length stand, no reschedule counted.
	assert.Equal(t, input().Booking.ScheduledStart, s.ScheduledStart)
	assert.Equal(t, 30, s.DurationMinutes)
	assert.Zero(t, s.Reschedules)

	// Staff heard of the cancel last, and never of a reschedule.
	assert.Equal(t, []string{"Telehealth session created", "Telehealth session cancelled"},
		events(c))
	// The patient was told once, of the cancel, for the booked start.
	if assert.Len(t, c.args["SendVisitChange"], 1) {
		change := c.args["SendVisitChange"][0].(activities.VisitChange)
		assert.Equal(t, activities.ChangeCancelled, change.Kind)
		assert.Equal(t, input().Booking.ScheduledStart, change.Start)
	}
	// The provider kept the first invitation only: no new launch link after the cancel.
	assert.Len(t, c.args["SendProviderEmail"], 1)
	assert.Len(t, c.args["DeleteMeeting"], 1)
	assert.Empty(t, c.at["SendReminder"])
	assert.Empty(t, c.at["TriggerBilling"])

	// The reschedule reached the platform before the cancel came, and was answered
	// with a refusal once it came back.
	assert.Len(t, c.args["UpdateMeeting"], 1)
	require.True(t, moveDone, "the reschedule was answered")
	var app *temporal.ApplicationError
	require.True(t, errors.As(moveErr, &app), "reschedule answered %v", moveErr)
	assert.Equal(t, workflows.ErrTypeInvalidChange, app.Type())
	assert.Contains(t, app.Message(), "the session was cancelled")
}

func TestRescheduleInsideLeadSkipsReminder(t *testing.T) {
	env, c := newEnv()
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.RescheduleUpdate, "soon", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("rejected: %v", err) },
			OnAccept:   func() {},
			OnComplete: func(any, error) {},
		}, workflows.RescheduleRequest{ScheduledStart: start0.Add(40 * time.Minute)})
	}, 10*time.Minute)
	env.ExecuteWorkflow(workflows.SessionLifecycle, input())
	s := result(t, env)
	assert.Empty(t, c.at["SendReminder"])
	assert.Equal(t, workflows.DeliverySkipped, s.Deliveries.Reminder.Status)
}

func TestBookingInsideLeadSkipsReminder(t *testing.T) {
	env, c := newEnv()
	in := input()
	in.Booking.ScheduledStart = start0.Add(30 * time.Minute)
	env.ExecuteWorkflow(workflows.SessionLifecycle, in)
	s := result(t, env)
	assert.Empty(t, c.at["SendReminder"])
	assert.Equal(t, workflows.DeliverySkipped, s.Deliveries.Reminder.Status)
}

func TestCancelBeforeCreateFinished(t *testing.T) {
	env := bareEnv()
	c := &calls{at: map[string][]time.Time{}, args: map[string][]any{}}
	mockVisit(env, c)
	// The platform takes a minute to create the meeting.
	env.OnActivity(acts.CreateMeeting, mock.Anything, mock.Anything).After(time.Minute).
		Return(meeting, nil)
	env.OnActivity(acts.NotifyStaff, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notice) error {
			c.arg(env, "NotifyStaff", n)
			return nil
		})
	env.OnActivity(acts.RecordSession, mock.Anything, mock.Anything).Return(nil)

	var createErr error
	var cancelled workflows.State
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.CreateSessionUpdate, "create", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("rejected: %v", err) },
			OnAccept:   func() {},
			OnComplete: func(_ any, err error) { createErr = err },
		}, termsOf(input()))
	}, 0)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.CancelUpdate, "cancel", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				cancelled = v.(workflows.State)
			},
		}, workflows.CancelRequest{Reason: workflows.CancelByPatient})
	}, 10*time.Second)

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, workflows.StatusCancelled, s.Status)
	assert.Equal(t, workflows.StatusCancelled, cancelled.Status)
	assert.Equal(t, workflows.CancelByPatient, s.Cancellation.Reason)
	var app *temporal.ApplicationError
	require.True(t, errors.As(createErr, &app), "create answered %v", createErr)
	assert.Equal(t, workflows.ErrTypeSessionCancelled, app.Type())

	require.Len(t, c.args["DeleteMeeting"], 1, "the meeting made meanwhile is deleted")
	assert.Equal(t, meeting.ID, c.args["DeleteMeeting"][0].(activities.MeetingRef).MeetingID)
	env.AssertNotCalled(t, "SendInviteEmail", mock.Anything, mock.Anything)
	assert.Empty(t, c.at["SendVisitChange"], "no link was sent, so no cancellation either")
	assert.Contains(t, events(c), "Telehealth session cancelled")
	for _, d := range []workflows.Delivery{s.Deliveries.Billing, s.Deliveries.FollowUp,
		s.Deliveries.Reminder, s.Deliveries.PatientEmail} {
		assert.Equal(t, workflows.DeliverySkipped, d.Status)
	}
}

func TestCancelScheduledSession(t *testing.T) {
	env, c := newEnv()
	env.RegisterDelayedCallback(func() {
		for _, r := range []workflows.CancelReason{"bogus", workflows.CancelByClinic,
			workflows.CancelByClinic} {
			env.UpdateWorkflow(workflows.CancelUpdate, string(r)+"-"+time.Now().String(),
				&testsuite.TestUpdateCallback{
					OnReject: func(err error) {
						if r != "bogus" {
							t.Errorf("rejected: %v", err)
						}
					},
					OnAccept: func() {
						if r == "bogus" {
							t.Error("unknown reason accepted")
						}
					},
					OnComplete: func(any, error) {},
				}, workflows.CancelRequest{Reason: r})
		}
	}, 30*time.Minute)
	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, workflows.StatusCancelled, s.Status)
	require.Len(t, c.args["DeleteMeeting"], 1)
	require.Len(t, c.args["SendVisitChange"], 1, "the patient had a link: told once")
	assert.Equal(t, activities.ChangeCancelled,
		c.args["SendVisitChange"][0].(activities.VisitChange).Kind)
	assert.Empty(t, c.at["SendReminder"], "the reminder was dropped")
	assert.Empty(t, c.at["TriggerBilling"])
	assert.Empty(t, c.at["TriggerFollowUp"])
}

func TestCancelOfUnknownSession(t *testing.T) {
	env, c := newEnv()
	in := workflows.SessionInput{CancelOnly: true, Policy: input().Policy}
	in.Booking.BookingID = "BOOK-NEVER-CREATED"
	var got workflows.State
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.CancelUpdate, "cancel", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				got = v.(workflows.State)
			},
		}, workflows.CancelRequest{Reason: workflows.CancelByProvider})
	}, 0)
	env.ExecuteWorkflow(workflows.SessionLifecycle, in)

	s := result(t, env)
	assert.Equal(t, workflows.StatusCancelled, s.Status)
	assert.Equal(t, workflows.StatusCancelled, got.Status)
	assert.Equal(t, workflows.CancelByProvider, s.Cancellation.Reason)
	assert.Empty(t, c.at["CreateMeeting"])
	assert.Empty(t, c.at["DeleteMeeting"])
	assert.Empty(t, c.at["TriggerBilling"])
}

func TestBurstAcrossContinueAsNew(t *testing.T) {
	const burst = 300
	guests := func(from, n int, off time.Duration) []workflows.VisitEvent {
		var out []workflows.VisitEvent
		for i := from; i < from+n; i++ {
			e := ev(workflows.EventJoined, off, fmt.Sprintf("guest-%d", i))
			e.Participant.Key = fmt.Sprintf("guest-key-%d", i)
			out = append(out, e)
		}
		return out
	}

	// First run: the visit starts, then a burst arrives in one go and the history is
	// long: the run hands over.
	env, _ := newEnv()
	in := input()
	playVisit(env, now(
		ev(workflows.EventMeetingStarted, 0, ""),
		ev(workflows.EventJoined, 0, "host"),
		ev(workflows.EventJoined, 0, "patient"),
	))
	env.RegisterDelayedCallback(func() {
		for _, e := range guests(0, burst, time.Minute) {
			env.SignalWorkflow(workflows.VisitEventSignal, e)
		}
		env.SetContinueAsNewSuggested(true)
	}, begins+time.Minute)
	env.ExecuteWorkflow(workflows.SessionLifecycle, in)

	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
	var next workflows.SessionInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Carried)
	assert.Len(t, next.Carried.Events, burst+3, "every event received is carried")
	assert.Equal(t, burst+3, next.Carried.State.EventsSeen)
	assert.Len(t, next.Carried.State.Attendance.Other, burst)

	// Second run, from the carried state: more events, some already seen, and the end.
	env2, c2 := newEnv()
	env2.SetStartTime(start0.Add(begins + 2*time.Minute))
	playAt := func(d time.Duration, events ...workflows.VisitEvent) {
		env2.RegisterDelayedCallback(func() {
			for _, e := range events {
				env2.SignalWorkflow(workflows.VisitEventSignal, e)
			}
		}, d)
	}
	playAt(time.Minute, guests(burst-10, 20, time.Minute)...) // 10 repeats, 10 new
	playAt(25*time.Minute,
		ev(workflows.EventLeft, 25*time.Minute, "patient"),
		ev(workflows.EventMeetingEnded, 26*time.Minute, ""))
	env2.ExecuteWorkflow(workflows.SessionLifecycle, next)

	s := result(t, env2)
	assert.Equal(t, burst+3+10+2, s.EventsSeen, "nothing lost, nothing counted twice")
	assert.Equal(t, 10, s.Duplicates)
	assert.Len(t, s.Attendance.Other, burst+10)
	assert.Equal(t, 2, s.Runs)
	assert.Equal(t, s.SessionID, next.Carried.State.SessionID, "one session across runs")
	assert.Equal(t, 25, billing(t, c2).DurationMinutes)
	assert.Empty(t, c2.at["CreateMeeting"], "the meeting is not made again")
}

func TestBriefWaitIsNoticed(t *testing.T) {
	env, c := newEnv()
	// The patient waits and is admitted between two looks: both events come together.
	wait := ev(workflows.EventWaitingJoined, 0, "patient")
	admit := ev(workflows.EventAdmitted, 0, "patient")
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.VisitEventSignal, wait)
		env.SignalWorkflow(workflows.VisitEventSignal, admit)
	}, begins+time.Second)
	playVisit(env, now(
		ev(workflows.EventMeetingStarted, 0, ""),
		ev(workflows.EventJoined, 0, "host"),
		ev(workflows.EventJoined, time.Second, "patient"),
		ev(workflows.EventMeetingEnded, 20*time.Minute, ""),
	))
	env.ExecuteWorkflow(workflows.SessionLifecycle, input())
	result(t, env)
	n := 0
	for _, e := range events(c) {
		if e == "Telehealth patient in the waiting room" {
			n++
		}
	}
	assert.Equal(t, 1, n, "staff hear of every stay, even a short one")
}
