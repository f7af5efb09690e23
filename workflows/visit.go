package workflows

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/session"
	"github.com/telehealth/sessions/internal/video"
)

// changeOptions run a meeting change the caller waits for (reschedule): a few quick
// tries, then a visible failure.
var changeOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    20 * time.Second,
	ScheduleToCloseTimeout: 2 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    500 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Second,
	},
}

// queueOptions give the visibility store a few seconds to show a patient who has just
// entered the waiting room, and no more: the queue is a courtesy.
var queueOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    500 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumAttempts:    6,
	},
}

// idle is how long the visit loop sleeps when no timer is due: it only bounds a wait
// for signals.
const idle = 24 * time.Hour

// visit is the live-visit lifecycle. It reuses the first release's helpers (deliver,
// record, notice, setStatus, settle, fail) through the embedded lifecycle, and adds
// the platform's events, the timers and the reschedule and cancel updates.
type visit struct {
	*lifecycle
	pol VisitPolicy
	// lean runs are those of leanVersion.
	lean bool
	// timer is a lean run's timer for its next deadline.
	timer deadlineTimer

	events []VisitEvent
	seen   map[string]bool

	reminded       bool
	nextTexted     bool
	endRequestedAt *time.Time
	closedAt       *time.Time
	// endedAt is when billing was triggered: follow-up comes FollowUpDelay later. Nil
	// on runs recorded before followUpChange, which count from the visit's end.
	endedAt *time.Time
	// cancelPending is set by the Cancel update; the loop carries it out.
	cancelPending bool
	// wake makes the loop look at the state again.
	wake bool
	// noticedStays counts the waiting-room stays staff have been told of.
	noticedStays int
	// queueDelivery records background work that the state does not show.
	queueDelivery Delivery

	signals workflow.ReceiveChannel
	nexts   workflow.ReceiveChannel
}

func visitLifecycle(ctx workflow.Context, in SessionInput, lean bool) (State, error) {
	v := &visit{lifecycle: &lifecycle{in: in}, pol: in.Policy.Visit.withDefaults(),
		seen: map[string]bool{}, lean: lean}
	if err := v.setup(ctx); err != nil {
		return v.state, err
	}
	err := v.run(ctx)

	// Let waiting updates answer before the workflow closes.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	if !workflow.IsContinueAsNewError(err) {
		v.dropLate()
	}
	return v.state, err
}

// dropLate records the platform events that arrived after the session closed: the
// visit is over, and they change nothing. (A run that continues as new hands its
// events on instead.)
func (v *visit) dropLate() {
	var e VisitEvent
	for v.signals.ReceiveAsync(&e) {
		v.logger.Info("visit event after close", "event", string(e.Type),
			"event_key", e.Key)
		e = VisitEvent{}
	}
	var n NextInQueue
	for v.nexts.ReceiveAsync(&n) {
	}
}

func (v *visit) setup(ctx workflow.Context) error {
	b := v.in.Booking
	info := workflow.GetInfo(ctx)
	if c := v.in.Carried; c != nil {
		v.state = c.State
		v.events = c.Events
		for _, e := range v.events {
			v.seen[e.Key] = true
		}
		v.reminded, v.nextTexted = c.Reminded, c.NextTexted
		v.endRequestedAt, v.closedAt, v.endedAt = c.EndRequestedAt, c.ClosedAt, c.EndedAt
		v.noticedStays = c.NoticedStays
	} else {
		id := SessionID(info.WorkflowStartTime, info.FirstRunID)
		v.state = State{
			SessionID:       id,
			BookingID:       b.BookingID,
			Fingerprint:     b.Fingerprint(),
			Status:          StatusCreating,
			TraceID:         b.TraceID,
			ScheduledStart:  b.ScheduledStart,
			ScheduledEnd:    b.ScheduledStart.Add(minutes(b.DurationMinutes)),
			DurationMinutes: b.DurationMinutes,
			UpdatedAt:       workflow.Now(ctx),
			ProviderID:      ProviderKey(cmp.Or(b.ProviderEmail, b.ProviderName)),
			PatientMasked:   phi.MaskName(string(b.PatientName)),
			PatientKey:      patientKey(id),
		}
		d := &v.state.Deliveries
		for _, p := range []*Delivery{&d.SessionLog, &d.PatientEmail, &d.PatientSMS,
			&d.StaffNotice, &d.Billing, &d.FollowUp, &d.Reminder} {
			p.Status = DeliveryPending
		}
		if b.TraceID == "" {
			v.state.TraceID = v.state.SessionID
		}
		v.state.Attendance = computeAttendance(nil, v.state.PatientKey,
			workflow.Now(ctx), nil)
	}
	v.state.Runs++
	v.logger = log.With(workflow.GetLogger(ctx),
		"session_id", v.state.SessionID, "trace_id", v.state.TraceID)
	v.signals = workflow.GetSignalChannel(ctx, VisitEventSignal)
	v.nexts = workflow.GetSignalChannel(ctx, NextInQueueSignal)

	if err := workflow.SetQueryHandler(ctx, SessionQuery, func() (State, error) {
		return v.state, nil
	}); err != nil {
		return fmt.Errorf("register query: %w", err)
	}
	if err := setSummaryQuery(ctx, &v.state, v.in.Booking.ProviderNotes); err != nil {
		return err
	}
	for _, h := range []struct {
		name               string
		handler, validator any
	}{
		{CreateSessionUpdate, v.createSession, v.validateTerms},
		{RescheduleUpdate, v.reschedule, v.validateReschedule},
		{CancelUpdate, v.cancel, v.validateCancel},
	} {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler,
			workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return fmt.Errorf("register update %s: %w", h.name, err)
		}
	}
	// A lean run's first task sets all its search attributes at once, in create.
	v.holding = v.lean && v.in.Carried == nil
	attrs := []temporal.SearchAttributeUpdate{
		SessionIDAttr.ValueSet(v.state.SessionID),
		SessionStatusAttr.ValueSet(string(v.state.Status)),
		ScheduledStartAttr.ValueSet(v.state.ScheduledStart),
		ProviderIDAttr.ValueSet(v.state.ProviderID),
	}
	if v.state.MeetingID != "" {
		attrs = append(attrs, MeetingIDAttr.ValueSet(v.state.MeetingID))
	}
	if v.holding {
		v.held = attrs
		return nil
	}
	return workflow.UpsertTypedSearchAttributes(ctx, attrs...)
}

// validateTerms lets a repeat of a cancelled booking through, to hear that it was
// cancelled; otherwise it is the first release's check.
func (v *visit) validateTerms(terms BookingTerms) error {
	if v.state.Cancellation != nil {
		return nil
	}
	return v.lifecycle.validateTerms(terms)
}

// createSession answers once the session has left CREATING.
func (v *visit) createSession(ctx workflow.Context, _ BookingTerms) (Links, error) {
	settled := func() bool { return v.state.Status != StatusCreating }
	if err := workflow.Await(ctx, settled); err != nil {
		return Links{}, err
	}
	switch {
	case v.state.Cancellation != nil:
		return Links{}, temporal.NewNonRetryableApplicationError(
			"session was cancelled", ErrTypeSessionCancelled, nil)
	case v.failure != nil:
		return Links{}, v.failure
	}
	return v.state.Links(), nil
}

func (v *visit) run(ctx workflow.Context) error {
	if v.in.Carried == nil {
		done, err := v.create(ctx)
		if err != nil {
			return err
		}
		if done {
			return v.settle(ctx)
		}
	}
	for {
		v.drain(ctx)
		if done := v.step(ctx); done {
			return v.settle(ctx)
		}
		if v.tooLong(ctx) {
			return v.continueAsNew(ctx)
		}
		v.wake = false
		if v.lean {
			if err := v.await(ctx); err != nil {
				return err
			}
			continue
		}
		wait := idle
		if at, ok := v.nextDeadline(); ok {
			wait = at.Sub(workflow.Now(ctx))
		}
		if wait > 0 {
			if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool {
				return v.wake || v.signals.Len() > 0 || v.nexts.Len() > 0
			}); err != nil {
				return err
			}
		}
	}
}

// takes reports whether this run takes the change named, one of version 1 of
// visitChange's (each its own workflow.GetVersion, at most version 1). A lean run was
// started after all of them and takes each without a marker and a search-attribute
// upsert of its own; a change made after the lean version must ask GetVersion itself.
func (v *visit) takes(ctx workflow.Context, change string) bool {
	return v.lean || workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) == 1
}

// deadlineTimer is the timer of one deadline of the visit loop.
type deadlineTimer struct {
	at     time.Time
	fired  workflow.Future
	cancel workflow.CancelFunc
}

// await waits for a signal, a wake-up or the next deadline. The timer of a deadline
// that has not moved is kept from one pass to the next, so that a platform event costs
// its signal and no timer.
func (v *visit) await(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	at, ok := v.nextDeadline()
	if ok && !at.After(now) {
		return nil
	}
	t := &v.timer
	if t.fired != nil && (t.fired.IsReady() || !ok || !t.at.Equal(at)) {
		t.cancel()
		t.fired = nil
	}
	if ok && t.fired == nil {
		tctx, cancel := workflow.WithCancel(ctx)
		t.at, t.cancel = at, cancel
		t.fired = workflow.NewTimer(tctx, at.Sub(now))
	}
	return workflow.Await(ctx, func() bool {
		return v.wake || v.signals.Len() > 0 || v.nexts.Len() > 0 ||
			(t.fired != nil && t.fired.IsReady())
	})
}

// create checks the booking and creates the meeting; done is true when the session
// is over already (failed, or cancelled before its meeting was made).
func (v *visit) create(ctx workflow.Context) (done bool, err error) {
	done, err = v.createHeld(ctx)
	v.flush(ctx)
	return done, err
}

// createHeld is create while a lean run holds its search attributes: every path that
// waits for more than the meeting flushes them first, so that the session can be found
// while it waits.
func (v *visit) createHeld(ctx workflow.Context) (done bool, err error) {
	if v.in.CancelOnly {
		v.flush(ctx)
		// Started by a Cancel for a booking without a session: let its update run.
		cancelled := func() bool { return v.state.Cancellation != nil }
		if _, err := workflow.AwaitWithTimeout(ctx, time.Minute, cancelled); err != nil {
			return true, err
		}
		v.cancelPending = false
		if v.state.Cancellation == nil {
			v.state.Cancellation = &Cancellation{Reason: CancelOther,
				At: workflow.Now(ctx)}
			v.setStatus(ctx, StatusCancelled)
		}
		v.skipAll()
		v.logger.Info("session cancelled before it existed")
		return true, nil
	}
	if v.cancelPending {
		v.finishCancel(ctx)
		return true, nil
	}
	if problems := v.validate(ctx); problems != "" {
		return true, v.fail(ctx, temporal.NewNonRetryableApplicationError(
			problems, ErrTypeInvalidBooking, nil))
	}
	meeting, err := v.makeMeeting(ctx)
	if err != nil && v.cancelPending {
		v.finishCancel(ctx)
		return true, nil
	}
	if err != nil {
		return true, v.fail(ctx, temporal.NewNonRetryableApplicationError(
			failureText(err), ErrTypeMeetingFailed, err))
	}
	v.state.MeetingID = meeting.ID
	v.state.Platform = meeting.Platform
	v.upsert(ctx, MeetingIDAttr.ValueSet(meeting.ID))
	if v.cancelPending {
		// Cancelled while the meeting was being made: it goes again at once, and the
		// patient, who never got a link, hears nothing.
		v.finishCancel(ctx)
		return true, nil
	}
	v.state.MeetingURL = meeting.JoinURL
	v.state.ProviderURL = meeting.HostURL
	v.state.Security = meeting.Security
	v.setStatus(ctx, StatusScheduled)
	v.logger.Info("meeting created", "meeting_id", meeting.ID, "platform", meeting.Platform)
	if v.lean {
		// The caller's links go with this task; the messages follow in the next, each
		// tried once by local activity: a few history events instead of an activity's
		// round trips each.
		v.flush(ctx)
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return true, err
		}
		if v.cancelPending {
			v.finishCancel(ctx)
			return true, nil
		}
		v.quick = true
		defer func() { v.quick = false }()
	}
	v.fanOut(ctx)
	v.emailProvider(ctx)
	if !workflow.Now(ctx).Before(v.reminderAt()) {
		v.state.Deliveries.Reminder.Status = DeliverySkipped
		v.reminded = true
	}
	return false, nil
}

// quickOptions give a lean run's meeting, and its first messages, one try by local
// activity inside a workflow task, short enough not to hold that task up.
var quickOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 5 * time.Second,
	RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
}

// worthRetrying tells a quick try's failure that its activity should try again.
func worthRetrying(err error) bool {
	if err == nil || temporal.IsCanceledError(err) {
		return false
	}
	app, ok := errors.AsType[*temporal.ApplicationError](err)
	return !ok || !app.NonRetryable()
}

// firstTaskStarted is the event id of a run's first WorkflowTaskStarted, when nothing
// came before it.
const firstTaskStarted = 3

// makeMeeting creates the meeting. A lean run first tries once by local activity, which
// costs no round trip through the server; a try that fails in a way worth retrying
// hands over to the retried activity of the first release, which first looks for the
// meeting that try may have made.
func (v *visit) makeMeeting(ctx workflow.Context) (video.Meeting, error) {
	if !v.lean {
		return v.createMeeting(ctx)
	}
	b := v.in.Booking
	in := activities.CreateMeetingInput{
		SessionID:       v.state.SessionID,
		Start:           b.ScheduledStart,
		DurationMinutes: b.DurationMinutes,
		Timezone:        b.Timezone,
		// The first task starts at event 3. A later start is this task tried again
		// (its worker may have made the meeting and stopped) or follows early events:
		// either way, look first.
		MayExist: workflow.GetInfo(ctx).GetCurrentHistoryLength() > firstTaskStarted,
	}
	var m video.Meeting
	err := workflow.ExecuteLocalActivity(
		workflow.WithLocalActivityOptions(ctx, quickOptions), a.CreateMeeting, in,
	).Get(ctx, &m)
	if !worthRetrying(err) {
		return m, err
	}
	v.logger.Warn("meeting not created at once", "error", failureText(err))

	// The session waits visibly from here.
	v.flush(ctx)
	in.MayExist = true
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, meetingOptions),
		a.CreateMeeting, in).Get(ctx, &m)
	return m, err
}

// emailProvider sends the provider their own link, beside the first release's
// fan-out, or marks it skipped for a booking without a provider email.
func (v *visit) emailProvider(ctx workflow.Context) {
	b := v.in.Booking
	d := &v.state.Deliveries.ProviderEmail
	if b.ProviderEmail == "" {
		d.Status = DeliverySkipped
		return
	}
	v.deliver(ctx, "provider email", d, messageOptions, a.SendProviderEmail,
		activities.ProviderInvite{
			SessionID:       v.state.SessionID,
			ProviderEmail:   b.ProviderEmail,
			ProviderName:    b.ProviderName,
			PatientMasked:   v.state.PatientMasked,
			ProviderURL:     v.state.ProviderURL,
			Start:           v.state.ScheduledStart,
			Timezone:        b.Timezone,
			DurationMinutes: v.state.DurationMinutes,
			Security:        v.state.Security,
		})
}

// drain applies every signal received so far.
func (v *visit) drain(ctx workflow.Context) {
	var e VisitEvent
	for v.signals.ReceiveAsync(&e) {
		if v.apply(e) && e.Type == EventRecordingComplete && e.Recording != nil {
			v.retain(ctx, *e.Recording)
		}
		e = VisitEvent{}
	}
	var n NextInQueue
	for v.nexts.ReceiveAsync(&n) {
		v.next(ctx, n)
		n = NextInQueue{}
	}
	v.refresh(ctx)
}

// apply keeps an event unless it was seen before or is for another meeting; kept
// says whether it did.
func (v *visit) apply(e VisitEvent) (kept bool) {
	switch {
	case !e.Type.Known() || e.Key == "":
		v.logger.Warn("visit event ignored", "event", string(e.Type))
	case v.state.MeetingID != "" && e.MeetingID != v.state.MeetingID:
		v.logger.Warn("visit event for another meeting ignored", "event", string(e.Type),
			"meeting_id", e.MeetingID)
	case v.seen[e.Key]:
		v.state.Duplicates++
	default:
		v.seen[e.Key] = true
		v.events = append(v.events, e)
		v.state.EventsSeen++
		return true
	}
	return false
}

// retentionChange names, in workflow.GetVersion, keeping completed recordings and
// starting their retention.
const retentionChange = "recording-retention"

// retentionStartChange names, in workflow.GetVersion, starting the retention through
// the retried StartRetention activity instead of as a child workflow whose failed
// start was not retried.
const retentionStartChange = "retention-start-activity"

// retentionStartOptions retry the start of a retention until Temporal takes it: the
// recording must not outlive its retention because a start failed once.
var retentionStartOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        5 * time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrTypeNotConfigured},
	},
}

// retain keeps a completed recording and starts its retention, a workflow named by
// the recording, so that a redelivered event, a retried start or a second run of the
// session cannot start a second one. It outlives the session.
func (v *visit) retain(ctx workflow.Context, rec Recording) {
	if !v.takes(ctx, retentionChange) {
		return
	}
	for _, r := range v.state.Recordings {
		if r.ID == rec.ID {
			return
		}
	}
	v.state.Recordings = append(v.state.Recordings, rec)
	in := RetentionInput{
		Recording: rec,
		SessionID: v.state.SessionID,
		Retain:    v.in.Policy.RecordingRetention,
	}
	if !v.takes(ctx, retentionStartChange) {
		v.retainAsChild(ctx, in)
		return
	}
	raw, err := json.Marshal(in)
	if err == nil {
		err = workflow.ExecuteActivity(
			workflow.WithActivityOptions(ctx, retentionStartOptions), a.StartRetention,
			activities.RetentionStart{
				WorkflowID: RetentionWorkflowID(rec.ID),
				TaskQueue:  workflow.GetInfo(ctx).TaskQueueName,
				Input:      raw,
			}).Get(ctx, nil)
	}
	if err != nil {
		v.logger.Error("recording retention not started", "recording_id", rec.ID,
			"error", failureText(err))
		return
	}
	v.logger.Info("recording retention started", "recording_id", rec.ID,
		"meeting_id", rec.MeetingID)
}

// retainAsChild is how runs before retentionStartChange start the retention: a child
// workflow with ParentClosePolicy ABANDON, its start not retried.
func (v *visit) retainAsChild(ctx workflow.Context, in RetentionInput) {
	rec := in.Recording
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            RetentionWorkflowID(rec.ID),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	})
	child := workflow.ExecuteChildWorkflow(cctx, RecordingRetentionWorkflow, in)
	// An abandoned child must have started before its parent closes.
	err := child.GetChildWorkflowExecution().Get(ctx, nil)
	if _, ok := errors.AsType[*temporal.ChildWorkflowExecutionAlreadyStartedError](
		err); ok {
		v.logger.Info("recording retention already started", "recording_id", rec.ID)
		return
	}
	if err != nil {
		v.logger.Error("recording retention not started", "recording_id", rec.ID,
			"error", failureText(err))
		return
	}
	v.logger.Info("recording retention started", "recording_id", rec.ID,
		"meeting_id", rec.MeetingID)
}

// refresh recomputes the attendance and reacts to the waiting room's changes.
func (v *visit) refresh(ctx workflow.Context) {
	before := v.state.Attendance.WaitingSince
	v.state.Attendance = computeAttendance(v.events, v.state.PatientKey,
		workflow.Now(ctx), v.closedAt)
	after := v.state.Attendance.WaitingSince
	if final(v.state.Status) || v.state.Status == StatusEnded {
		return
	}
	entered := after != nil && (before == nil || !before.Equal(*after))
	if entered {
		v.nextTexted = false
		v.upsert(ctx, WaitingSinceAttr.ValueSet(*after))
	}
	stays := len(v.state.Attendance.WaitingRoom)
	if entered || stays > v.noticedStays {
		// A stay that began and ended between two looks is noticed too.
		notify := entered
		if v.takes(ctx, noticeChange) {
			notify = stays > v.noticedStays
		}
		v.noticedStays = stays
		if notify {
			d := &v.state.Deliveries
			v.deliver(ctx, "waiting-room notice", &d.WaitingNotice, messageOptions,
				a.NotifyStaff, v.notice("Telehealth patient in the waiting room", ""))
		}
	}
	switch {
	case entered:
		v.promote(ctx, true)
	case after == nil && before != nil:
		v.upsert(ctx, WaitingSinceAttr.ValueUnset())
	}
	if v.state.Status == StatusScheduled &&
		(v.state.Attendance.Live || v.state.Attendance.PatientSeen) {
		v.setStatus(ctx, StatusInProgress)
	}
}

// promote asks the provider's waiting room to tell its first patient they are next;
// waiting says that this session's patient has just entered it.
func (v *visit) promote(ctx workflow.Context, waiting bool) {
	v.deliver(ctx, "waiting-room queue", &v.queueDelivery, queueOptions,
		a.PromoteNextInQueue, activities.QueueInput{
			SessionID:  v.state.SessionID,
			ProviderID: v.state.ProviderID,
			Waiting:    waiting,
		})
}

// next texts the patient that they are next, once per stay in the waiting room.
func (v *visit) next(ctx workflow.Context, n NextInQueue) {
	w := v.state.Attendance.WaitingSince
	if v.nextTexted || w == nil || (!n.WaitingSince.IsZero() && !n.WaitingSince.Equal(*w)) {
		return
	}
	v.nextTexted = true
	b := v.in.Booking
	v.deliver(ctx, "next-in-queue text", &v.state.Deliveries.NextInQueue, messageOptions,
		a.TextNextInQueue, activities.NextText{
			SessionID: v.state.SessionID, Email: b.PatientEmail, Phone: b.PatientPhone,
		})
}

// step moves the session on by what the clock and the events say; done is true when
// the session is over.
func (v *visit) step(ctx workflow.Context) (done bool) {
	now := workflow.Now(ctx)
	att := v.state.Attendance
	if v.cancelPending {
		v.finishCancel(ctx)
		return true
	}
	switch v.state.Status {
	case StatusCancelled, StatusNoShow, StatusCompleted, StatusFailed:
		return true
	case StatusEnded:
		if now.Before(v.followUpAt()) {
			return false
		}
		v.followUp(ctx)
		return true
	}
	if att.MeetingDeleted && !att.PatientSeen && !att.Live {
		v.logger.Warn("meeting deleted on the platform")
		v.state.Cancellation = &Cancellation{Reason: CancelByPlatform, At: now}
		v.setStatus(ctx, StatusCancelled)
		v.finishCancel(ctx)
		return true
	}
	if !v.reminded && !now.Before(v.reminderAt()) {
		v.remind(ctx)
	}
	if !att.PatientSeen && !now.Before(v.noShowAt()) {
		v.noShow(ctx)
		return true
	}
	if v.endRequestedAt == nil && !now.Before(v.autoEndAt()) {
		if !att.Live {
			end := now
			if att.ActualEnd != nil {
				end = *att.ActualEnd
			}
			v.finish(ctx, end)
			return false
		}
		v.logger.Info("meeting auto-ended", "meeting_id", v.state.MeetingID)
		t := now
		v.endRequestedAt = &t
		v.deliver(ctx, "meeting end", &v.state.Deliveries.MeetingChange, recordOptions,
			a.EndMeeting, v.meetingRef())
		return false
	}
	switch {
	case v.endRequestedAt != nil && !att.Live && att.ActualEnd != nil:
		v.finish(ctx, *att.ActualEnd)
	case v.endRequestedAt != nil && !now.Before(v.endRequestedAt.Add(v.pol.EndWait)):
		v.logger.Warn("meeting end not confirmed", "meeting_id", v.state.MeetingID)
		v.finish(ctx, now)
	case att.PatientSeen && !att.Live && att.ActualEnd != nil &&
		!now.Before(att.ActualEnd.Add(v.pol.RejoinGrace)):
		v.finish(ctx, *att.ActualEnd)
	}
	return false
}

// nextDeadline is the next time the loop must look at the clock.
func (v *visit) nextDeadline() (time.Time, bool) {
	var at []time.Time
	att := v.state.Attendance
	switch v.state.Status {
	case StatusEnded:
		at = append(at, v.followUpAt())
	case StatusScheduled, StatusInProgress:
		if !v.reminded {
			at = append(at, v.reminderAt())
		}
		if !att.PatientSeen {
			at = append(at, v.noShowAt())
		}
		if v.endRequestedAt == nil {
			at = append(at, v.autoEndAt())
		} else {
			at = append(at, v.endRequestedAt.Add(v.pol.EndWait))
		}
		if att.ActualEnd != nil && !att.Live {
			at = append(at, att.ActualEnd.Add(v.pol.RejoinGrace))
		}
	}
	var first time.Time
	for _, t := range at {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first, !first.IsZero()
}

// The timers, all computed from the state, so that a reschedule moves every one.
func (v *visit) reminderAt() time.Time {
	return v.state.ScheduledStart.Add(-v.pol.ReminderLead)
}
func (v *visit) noShowAt() time.Time { return v.state.ScheduledStart.Add(v.pol.NoShowGrace) }
func (v *visit) autoEndAt() time.Time {
	return v.state.ScheduledEnd.Add(minutes(v.in.Policy.BufferMinutes))
}
func (v *visit) followUpAt() time.Time {
	end := v.state.UpdatedAt
	switch {
	case v.endedAt != nil:
		end = *v.endedAt
	case v.closedAt != nil:
		end = *v.closedAt
	}
	return end.Add(v.in.Policy.FollowUpDelay)
}

// noticeChange names, in workflow.GetVersion, a staff notice for every stay in the
// waiting room, even one that began and ended between two looks at the events.
const noticeChange = "notice-every-wait"

// followUpChange names, in workflow.GetVersion, counting the follow-up delay from the
// billing trigger rather than from the visit's end.
const followUpChange = "follow-up-after-billing"

func (v *visit) meetingRef() activities.MeetingRef {
	return activities.MeetingRef{SessionID: v.state.SessionID, MeetingID: v.state.MeetingID}
}

func (v *visit) remind(ctx workflow.Context) {
	v.reminded = true
	b := v.in.Booking
	v.deliver(ctx, "reminder", &v.state.Deliveries.Reminder, messageOptions,
		a.SendReminder, activities.Reminder{
			SessionID:       v.state.SessionID,
			BookingID:       v.state.BookingID,
			Email:           b.PatientEmail,
			Phone:           b.PatientPhone,
			MeetingURL:      v.state.MeetingURL,
			Start:           v.state.ScheduledStart,
			Timezone:        b.Timezone,
			DurationMinutes: v.state.DurationMinutes,
		})
}

// finish closes the visit at end: the attendance is frozen and billing gets the real
// duration; follow-up comes FollowUpDelay later.
func (v *visit) finish(ctx workflow.Context, end time.Time) {
	if end.After(workflow.Now(ctx)) {
		end = workflow.Now(ctx)
	}
	v.closedAt = &end
	if v.takes(ctx, followUpChange) {
		now := workflow.Now(ctx)
		v.endedAt = &now
	}
	v.refresh(ctx)
	v.upsert(ctx, WaitingSinceAttr.ValueUnset())
	v.setStatus(ctx, StatusEnded)
	att := v.state.Attendance
	v.logger.Info("visit ended", "billable_minutes", att.BillableMinutes,
		"wait_seconds", att.TotalWaitSeconds)
	v.skipReminder()
	v.bill(ctx, false)
	v.exportEHR(ctx)
	v.record(ctx)
	// The provider is free: the next patient waiting for them is next.
	v.promote(ctx, false)
}

func (v *visit) bill(ctx workflow.Context, noShow bool) {
	b := v.in.Booking
	att := v.state.Attendance
	req := activities.BillingRequest{
		SessionID:        v.state.SessionID,
		BookingID:        b.BookingID,
		CustomerEmail:    b.PatientEmail,
		AmountCents:      v.in.Policy.SessionFeeCents,
		Description:      "Telehealth session on " + v.state.ScheduledStart.Format(time.DateOnly),
		DurationMinutes:  att.BillableMinutes,
		ScheduledMinutes: v.state.DurationMinutes,
		ActualStart:      att.ActualStart,
		ActualEnd:        att.ActualEnd,
	}
	if noShow {
		req.AmountCents, req.NoShow, req.DurationMinutes = 0, true, 0
		req.Description = "Telehealth no-show on " +
			v.state.ScheduledStart.Format(time.DateOnly)
		if v.takes(ctx, noShowFeeChange) {
			req.AmountCents = v.in.Policy.NoShowFeeCents
			if req.AmountCents == 0 {
				v.state.Deliveries.Billing.Status = DeliverySkipped
				return
			}
		}
	}
	v.deliver(ctx, "billing trigger", &v.state.Deliveries.Billing, recordOptions,
		a.TriggerBilling, req)
}

// noShowFeeChange names, in workflow.GetVersion, billing a no-show the policy's
// NoShowFeeCents, and not at all without one. Runs before it sent the billing module
// an amount of 0, which M04 refuses.
const noShowFeeChange = "no-show-fee"

func (v *visit) followUp(ctx workflow.Context) {
	b := v.in.Booking
	v.deliver(ctx, "follow-up trigger", &v.state.Deliveries.FollowUp, recordOptions,
		a.TriggerFollowUp, activities.FollowUpRequest{
			SessionID:    v.state.SessionID,
			BookingID:    b.BookingID,
			PatientEmail: b.PatientEmail,
			VisitDate:    v.state.ScheduledStart,
			ProviderName: b.ProviderName,
		})
	v.setStatus(ctx, StatusCompleted)
	v.record(ctx)
}

// noShow is the path of a patient who never came: staff are told, a running meeting is
// ended, the no-show fee is billed (none: nothing is), and there is no follow-up.
func (v *visit) noShow(ctx workflow.Context) {
	v.logger.Info("patient did not attend")
	live := v.state.Attendance.Live
	now := workflow.Now(ctx)
	v.closedAt = &now
	v.refresh(ctx)
	v.state.NoShow = true
	v.setStatus(ctx, StatusNoShow)
	d := &v.state.Deliveries
	v.deliver(ctx, staffNotice, &d.StaffNotice, messageOptions, a.NotifyStaff,
		v.notice("Telehealth patient did not attend", ""))
	if live {
		v.deliver(ctx, "meeting end", &d.MeetingChange, recordOptions, a.EndMeeting,
			v.meetingRef())
	}
	v.skipReminder()
	d.FollowUp.Status = DeliverySkipped
	v.bill(ctx, true)
	v.exportEHR(ctx)
	v.record(ctx)
}

// finishCancel carries out a cancellation: the meeting goes, the patient (if they had
// their link) and staff are told, and nothing is billed or followed up.
func (v *visit) finishCancel(ctx workflow.Context) {
	v.cancelPending = false
	d := &v.state.Deliveries
	if v.state.MeetingID != "" {
		v.deliver(ctx, "meeting delete", &d.MeetingChange, recordOptions,
			a.DeleteMeeting, v.meetingRef())
	}
	if v.state.MeetingURL != "" {
		b := v.in.Booking
		v.deliver(ctx, "cancellation notice", &d.PatientChange, messageOptions,
			a.SendVisitChange, activities.VisitChange{
				Kind:            activities.ChangeCancelled,
				SessionID:       v.state.SessionID,
				Email:           b.PatientEmail,
				Phone:           b.PatientPhone,
				Start:           v.state.ScheduledStart,
				Timezone:        b.Timezone,
				DurationMinutes: v.state.DurationMinutes,
			})
	}
	v.deliver(ctx, staffNotice, &d.StaffNotice, messageOptions, a.NotifyStaff,
		v.notice("Telehealth session cancelled", ""))
	v.upsert(ctx, WaitingSinceAttr.ValueUnset())
	v.skipAll()
	v.exportEHR(ctx)
	v.record(ctx)
	v.logger.Info("session cancelled", "reason", string(v.state.Cancellation.Reason))
}

// ehrChange names, in workflow.GetVersion, sending the visit to the EHR when it
// reaches its end state (ended, no-show, cancelled).
const ehrChange = "ehr-export"

// exportEHR sends the session's Appointment and Encounter to the EHR once, from the
// state as it is now; without an EHR configured the delivery is skipped.
func (v *visit) exportEHR(ctx workflow.Context) {
	if !v.takes(ctx, ehrChange) {
		return
	}
	d := &v.state.Deliveries.EHR
	if !v.pol.EHRExport {
		d.Status = DeliverySkipped
		return
	}
	visit, err := json.Marshal(ehrState(v.state))
	if err != nil {
		now := workflow.Now(ctx)
		d.Status, d.Error, d.At = DeliveryFailed, "ehr: the visit does not encode", &now
		return
	}
	v.deliver(ctx, "EHR export", d, recordOptions, a.SendToEHR,
		activities.EHRRecord{SessionID: v.state.SessionID, Visit: visit})
}

// ehrState is the part of the state the FHIR resources are built from.
func ehrState(s State) State {
	return State{
		SessionID:       s.SessionID,
		Status:          s.Status,
		ScheduledStart:  s.ScheduledStart,
		ScheduledEnd:    s.ScheduledEnd,
		DurationMinutes: s.DurationMinutes,
		MeetingID:       s.MeetingID,
		Platform:        s.Platform,
		MeetingURL:      s.MeetingURL,
		UpdatedAt:       s.UpdatedAt,
		ProviderID:      s.ProviderID,
		PatientMasked:   s.PatientMasked,
		PatientKey:      s.PatientKey,
		Attendance:      s.Attendance,
		NoShow:          s.NoShow,
		Cancellation:    s.Cancellation,
	}
}

func (v *visit) skipReminder() {
	if r := &v.state.Deliveries.Reminder; r.Status == DeliveryPending && r.At == nil {
		r.Status = DeliverySkipped
	}
}

// skipAll marks what a cancelled session will never do.
func (v *visit) skipAll() {
	d := &v.state.Deliveries
	v.skipReminder()
	skip := []*Delivery{&d.Billing, &d.FollowUp}
	if v.state.MeetingURL == "" {
		// Never invited: the invitations will not go either.
		skip = append(skip, &d.PatientEmail, &d.PatientSMS)
	}
	for _, p := range skip {
		if p.Status == DeliveryPending {
			p.Status = DeliverySkipped
		}
	}
}

// tooLong reports whether the history should be handed to a new run.
func (v *visit) tooLong(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetCurrentHistoryLength() >= v.pol.HistoryLimit ||
		info.GetContinueAsNewSuggested()
}

// continueAsNew hands the state to a new run once every side effect and update has
// settled and every signal received has been applied.
func (v *visit) continueAsNew(ctx workflow.Context) error {
	for {
		if err := v.settle(ctx); err != nil {
			return err
		}
		if err := workflow.Await(ctx, func() bool {
			return workflow.AllHandlersFinished(ctx)
		}); err != nil {
			return err
		}
		v.drain(ctx)
		if v.pending > 0 {
			continue
		}
		// A moment for signals already on their way, so that none is left behind.
		more, err := workflow.AwaitWithTimeout(ctx, time.Second, func() bool {
			return v.signals.Len() > 0 || v.nexts.Len() > 0
		})
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	in := v.in
	in.CancelOnly = false
	in.Carried = &Carried{
		State:          v.state,
		Events:         v.events,
		Reminded:       v.reminded,
		NextTexted:     v.nextTexted,
		EndRequestedAt: v.endRequestedAt,
		ClosedAt:       v.closedAt,
		EndedAt:        v.endedAt,
		NoticedStays:   v.noticedStays,
	}
	v.logger.Info("session continued as new", "events", len(v.events))
	return workflow.NewContinueAsNewError(ctx, SessionLifecycle, in)
}

// validateReschedule rejects, before anything reaches history, a reschedule that
// cannot be done, listing every problem.
func (v *visit) validateReschedule(ctx workflow.Context, r RescheduleRequest) error {
	now := workflow.Now(ctx)
	var problems []string
	switch v.state.Status {
	case StatusCreating, StatusScheduled:
		if v.state.Attendance.Live || v.state.Attendance.PatientSeen {
			problems = append(problems, "the visit has started")
		}
	default:
		problems = append(problems, "the session is "+string(v.state.Status))
	}
	switch {
	case r.ScheduledStart.IsZero():
		problems = append(problems, "scheduledStart is required")
	case !r.ScheduledStart.After(now):
		problems = append(problems, "scheduledStart must be in the future")
	case r.ScheduledStart.After(now.Add(session.DefaultMaxAhead)):
		problems = append(problems, "scheduledStart must be within a year")
	}
	if r.DurationMinutes != 0 && (r.DurationMinutes < 15 || r.DurationMinutes > 120) {
		problems = append(problems, "durationMinutes must be from 15 to 120")
	}
	return invalidChange(problems)
}

// reschedule patches the meeting, then moves the session: every timer is computed from
// the new times, and the patient and staff are told again.
func (v *visit) reschedule(ctx workflow.Context, r RescheduleRequest) (State, error) {
	settled := func() bool { return v.state.Status != StatusCreating }
	if err := workflow.Await(ctx, settled); err != nil {
		return State{}, err
	}
	if problems := v.unmovable(); len(problems) > 0 {
		return v.state, invalidChange(problems)
	}
	duration := r.DurationMinutes
	if duration == 0 {
		duration = v.state.DurationMinutes
	}
	start := r.ScheduledStart.UTC()
	if start.Equal(v.state.ScheduledStart) && duration == v.state.DurationMinutes {
		return v.state, nil
	}
	b := &v.in.Booking
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, changeOptions),
		a.UpdateMeeting, activities.UpdateMeetingInput{
			SessionID:       v.state.SessionID,
			MeetingID:       v.state.MeetingID,
			Start:           start,
			DurationMinutes: duration,
			Timezone:        b.Timezone,
		}).Get(ctx, nil)

	// A cancel, or the visit itself, may have come while the platform was answering:
	// then the session stays as it is and nobody hears of a reschedule.
	if problems := v.unmovable(); len(problems) > 0 {
		v.logger.Info("reschedule abandoned", "status", string(v.state.Status))
		return v.state, invalidChange(problems)
	}
	if err != nil {
		v.logger.Warn("meeting not moved", "error", failureText(err))
		return v.state, temporal.NewApplicationError(
			"the meeting could not be moved: "+failureText(err), ErrTypeMeetingFailed)
	}
	b.ScheduledStart, b.DurationMinutes = start, duration
	v.state.ScheduledStart = start
	v.state.ScheduledEnd = start.Add(minutes(duration))
	v.state.DurationMinutes = duration
	v.state.Reschedules++
	v.state.UpdatedAt = workflow.Now(ctx)
	v.upsert(ctx, ScheduledStartAttr.ValueSet(start))
	v.logger.Info("session rescheduled")

	d := &v.state.Deliveries
	v.reminded = !workflow.Now(ctx).Before(v.reminderAt())
	d.Reminder = Delivery{Status: DeliveryPending}
	if v.reminded {
		d.Reminder.Status = DeliverySkipped
	}
	v.deliver(ctx, "reschedule notice", &d.PatientChange, messageOptions,
		a.SendVisitChange, activities.VisitChange{
			Kind:            activities.ChangeRescheduled,
			SessionID:       v.state.SessionID,
			Email:           b.PatientEmail,
			Phone:           b.PatientPhone,
			MeetingURL:      v.state.MeetingURL,
			Start:           start,
			Timezone:        b.Timezone,
			DurationMinutes: duration,
		})
	v.deliver(ctx, staffNotice, &d.StaffNotice, messageOptions, a.NotifyStaff,
		v.notice("Telehealth session rescheduled", ""))
	v.emailProvider(ctx)
	v.record(ctx)
	v.wake = true
	return v.state, nil
}

// unmovable lists why a reschedule, once its turn has come, can no longer move the
// session: it is cancelled (or a cancel is pending), over, or under way.
func (v *visit) unmovable() []string {
	switch {
	case v.cancelPending || v.state.Status == StatusCancelled:
		return []string{"the session was cancelled"}
	case v.state.Status != StatusScheduled:
		return []string{"the session is " + string(v.state.Status)}
	case v.state.Attendance.Live || v.state.Attendance.PatientSeen:
		return []string{"the visit has started"}
	}
	return nil
}

// validateCancel rejects a cancel of a visit under way or over, or with an unknown
// reason.
func (v *visit) validateCancel(_ workflow.Context, r CancelRequest) error {
	var problems []string
	if !r.Reason.Valid() {
		problems = append(problems, "reason must be one of patient, provider, clinic, other")
	}
	switch v.state.Status {
	case StatusCreating, StatusScheduled, StatusCancelled:
		if v.state.Attendance.Live || v.state.Attendance.PatientSeen {
			problems = append(problems, "the visit has started")
		}
	default:
		problems = append(problems, "the session is "+string(v.state.Status))
	}
	return invalidChange(problems)
}

// cancel marks the session cancelled at once, so that a create waiting on it answers;
// the loop deletes the meeting and tells everyone. A second cancel changes nothing.
func (v *visit) cancel(ctx workflow.Context, r CancelRequest) (State, error) {
	if v.state.Status == StatusCancelled {
		return v.state, nil
	}
	reason := r.Reason
	if reason == "" {
		reason = CancelOther
	}
	v.state.Cancellation = &Cancellation{Reason: reason, At: workflow.Now(ctx)}
	v.cancelPending = true
	v.setStatus(ctx, StatusCancelled)
	v.wake = true
	return v.state, nil
}

func invalidChange(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return temporal.NewNonRetryableApplicationError(strings.Join(problems, "; "),
		ErrTypeInvalidChange, nil, problems)
}

// final reports whether a status is the end of a session.
func final(s Status) bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusCancelled, StatusNoShow:
		return true
	}
	return false
}

// patientKey is the session's opaque patient key, for the platform's customer key.
func patientKey(sessionID string) string {
	sum := sha256.Sum256([]byte("patient:" + sessionID))
	return "pk-" + hex.EncodeToString(sum[:8])
}

func minutes(n int) time.Duration { return time.Duration(n) * time.Minute }
