package workflows

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/session"
	"github.com/telehealth/sessions/internal/video"
)

// a lets workflow code name activities; only its methods' names are used.
var a *activities.Activities

// Activity options, one per kind of call.
var (
	// Creating the meeting is what the caller waits for: retry transient faults quickly,
	// and give up after a while so the session fails visibly instead of hanging.
	meetingOptions = workflow.ActivityOptions{
		StartToCloseTimeout:    20 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	}
	// The session log and the triggers are idempotent enough to retry for a day.
	recordOptions = workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Minute,
		},
	}
	// A message that cannot be de-duplicated by its provider is tried a few times only,
	// so that a flaky provider does not text a patient five times.
	messageOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 3,
			MaximumAttempts:    4,
		},
	}
)

// legacyLifecycle is SessionLifecycle as it was first released: it knows only the
// booked time. Sessions started by that release replay through it; it is frozen.
func legacyLifecycle(ctx workflow.Context, in SessionInput) (State, error) {
	l := &lifecycle{in: in}
	if err := l.setup(ctx); err != nil {
		return l.state, err
	}
	err := l.run(ctx)

	// Let a waiting CreateSession update answer before the workflow closes.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return l.state, err
}

type lifecycle struct {
	in     SessionInput
	state  State
	logger log.Logger
	// pending counts the side effects under way.
	pending int
	// failure is the error the session failed with, for the CreateSession update.
	failure error
	// holding collects search-attribute updates in held, for one upsert (see flush),
	// instead of upserting each at once. First-release runs never hold.
	holding bool
	held    []temporal.SearchAttributeUpdate
	// quick makes deliver try each side effect once by local activity before its
	// activity (see visit.createHeld). First-release runs never set it.
	quick bool
}

// clockSkew is how much later than the API's clock a worker's may run: the workflow
// checks the scheduled start again, and must not refuse what the API just accepted.
const clockSkew = time.Minute

func (l *lifecycle) setup(ctx workflow.Context) error {
	b := l.in.Booking
	info := workflow.GetInfo(ctx)
	l.state = State{
		SessionID:       SessionID(info.WorkflowStartTime, info.FirstRunID),
		BookingID:       b.BookingID,
		Fingerprint:     b.Fingerprint(),
		Status:          StatusCreating,
		TraceID:         b.TraceID,
		ScheduledStart:  b.ScheduledStart,
		ScheduledEnd:    b.ScheduledStart.Add(time.Duration(b.DurationMinutes) * time.Minute),
		DurationMinutes: b.DurationMinutes,
		UpdatedAt:       workflow.Now(ctx),
	}
	d := &l.state.Deliveries
	for _, p := range []*Delivery{&d.SessionLog, &d.PatientEmail, &d.PatientSMS,
		&d.StaffNotice, &d.Billing, &d.FollowUp} {
		p.Status = DeliveryPending
	}
	if b.TraceID == "" {
		l.state.TraceID = l.state.SessionID
	}
	l.logger = log.With(workflow.GetLogger(ctx),
		"session_id", l.state.SessionID, "trace_id", l.state.TraceID)

	if err := workflow.SetQueryHandler(ctx, SessionQuery, func() (State, error) {
		return l.state, nil
	}); err != nil {
		return fmt.Errorf("register query: %w", err)
	}
	if err := setSummaryQuery(ctx, &l.state, l.in.Booking.ProviderNotes); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, CreateSessionUpdate, l.createSession,
		workflow.UpdateHandlerOptions{Validator: l.validateTerms}); err != nil {
		return fmt.Errorf("register update: %w", err)
	}
	return workflow.UpsertTypedSearchAttributes(ctx,
		SessionIDAttr.ValueSet(l.state.SessionID),
		SessionStatusAttr.ValueSet(string(l.state.Status)),
		ScheduledStartAttr.ValueSet(b.ScheduledStart),
	)
}

// validateTerms rejects, before anything reaches history, a request that reuses this
// booking with other terms.
func (l *lifecycle) validateTerms(terms BookingTerms) error {
	if terms.Conflicts(l.state.Terms()) {
		return temporal.NewNonRetryableApplicationError(
			"booking already has a session with other terms; reschedule it instead",
			ErrTypeBookingConflict, nil)
	}
	return nil
}

// createSession answers once the session has left CREATING: its meeting exists, or it
// has failed for good.
func (l *lifecycle) createSession(ctx workflow.Context, _ BookingTerms) (Links, error) {
	settled := func() bool { return l.state.Status != StatusCreating }
	if err := workflow.Await(ctx, settled); err != nil {
		return Links{}, err
	}
	if l.failure != nil {
		return Links{}, l.failure
	}
	return l.state.Links(), nil
}

func (l *lifecycle) run(ctx workflow.Context) error {
	b := l.in.Booking
	if problems := l.validate(ctx); problems != "" {
		return l.fail(ctx, temporal.NewNonRetryableApplicationError(
			problems, ErrTypeInvalidBooking, nil))
	}

	meeting, err := l.createMeeting(ctx)
	if err != nil {
		return l.fail(ctx, temporal.NewNonRetryableApplicationError(
			failureText(err), ErrTypeMeetingFailed, err))
	}
	l.state.MeetingID = meeting.ID
	l.state.Platform = meeting.Platform
	l.state.MeetingURL = meeting.JoinURL
	l.state.ProviderURL = meeting.HostURL
	l.state.Security = meeting.Security
	l.setStatus(ctx, StatusScheduled)
	l.logger.Info("meeting created", "meeting_id", meeting.ID, "platform", meeting.Platform)

	l.fanOut(ctx)

	if err := l.sleepUntil(ctx, l.state.ScheduledEnd.Add(
		time.Duration(l.in.Policy.BufferMinutes)*time.Minute)); err != nil {
		return err
	}
	l.setStatus(ctx, StatusEnded)
	d := &l.state.Deliveries
	l.deliver(ctx, "billing trigger", &d.Billing, recordOptions, a.TriggerBilling,
		activities.BillingRequest{
			SessionID:       l.state.SessionID,
			BookingID:       b.BookingID,
			CustomerEmail:   b.PatientEmail,
			AmountCents:     l.in.Policy.SessionFeeCents,
			Description:     "Telehealth session on " + b.ScheduledStart.Format(time.DateOnly),
			DurationMinutes: b.DurationMinutes,
		})

	if err := workflow.Sleep(ctx, l.in.Policy.FollowUpDelay); err != nil {
		return err
	}
	l.deliver(ctx, "follow-up trigger", &d.FollowUp, recordOptions, a.TriggerFollowUp,
		activities.FollowUpRequest{
			SessionID:    l.state.SessionID,
			BookingID:    b.BookingID,
			PatientEmail: b.PatientEmail,
			VisitDate:    b.ScheduledStart,
			ProviderName: b.ProviderName,
		})

	l.setStatus(ctx, StatusCompleted)
	l.record(ctx)
	return l.settle(ctx)
}

// validate checks the booking again (defence in depth) and returns its problems, or "".
// The check reads the time-zone database, which may change between a run and its
// replay, so its outcome is recorded in history as a side effect.
func (l *lifecycle) validate(ctx workflow.Context) string {
	lim := session.Limits{
		Now:           workflow.GetInfo(ctx).WorkflowStartTime,
		PastTolerance: l.in.Policy.PastTolerance + clockSkew,
	}
	var problems string
	v := workflow.SideEffect(ctx, func(workflow.Context) any {
		if err := l.in.Booking.Validate(lim); err != nil {
			return err.Error()
		}
		return ""
	})
	if err := v.Get(&problems); err != nil {
		return "booking check unreadable"
	}
	return problems
}

func (l *lifecycle) createMeeting(ctx workflow.Context) (video.Meeting, error) {
	b := l.in.Booking
	var m video.Meeting
	err := workflow.ExecuteActivity(
		workflow.WithActivityOptions(ctx, meetingOptions),
		a.CreateMeeting,
		activities.CreateMeetingInput{
			SessionID:       l.state.SessionID,
			Start:           b.ScheduledStart,
			DurationMinutes: b.DurationMinutes,
			Timezone:        b.Timezone,
		},
	).Get(ctx, &m)
	return m, err
}

// fanOut starts the session log, the patient's email and SMS and the staff notice
// side by side. None waits for another, and none holds up the lifecycle: each records
// its own outcome when it settles.
func (l *lifecycle) fanOut(ctx workflow.Context) {
	b := l.in.Booking
	invite := activities.Invite{
		SessionID:       l.state.SessionID,
		Email:           b.PatientEmail,
		Phone:           b.PatientPhone,
		MeetingURL:      l.state.MeetingURL,
		Start:           b.ScheduledStart,
		Timezone:        b.Timezone,
		DurationMinutes: b.DurationMinutes,
		Security:        l.state.Security,
	}
	d := &l.state.Deliveries

	l.record(ctx)
	l.deliver(ctx, "patient email", &d.PatientEmail, messageOptions, a.SendInviteEmail, invite)
	if b.PatientPhone != "" {
		l.deliver(ctx, "patient SMS", &d.PatientSMS, messageOptions, a.SendInviteSMS, invite)
	} else {
		d.PatientSMS.Status = DeliverySkipped
	}
	l.deliver(ctx, staffNotice, &d.StaffNotice, messageOptions, a.NotifyStaff,
		l.notice("Telehealth session created", ""))
}

// staffNotice names the staff channel's deliveries, which are not escalated to itself.
const staffNotice = "staff notice"

// deliver runs the side effect called name in the background and records its outcome
// in d. One that fails for good is logged and escalated to staff: nothing is dropped
// silently.
func (l *lifecycle) deliver(
	ctx workflow.Context,
	name string,
	d *Delivery,
	opts workflow.ActivityOptions,
	activity, arg any,
) {
	d.Status = DeliveryPending
	quick := l.quick
	var f workflow.Future
	if quick {
		f = workflow.ExecuteLocalActivity(
			workflow.WithLocalActivityOptions(ctx, quickOptions), activity, arg)
	} else {
		f = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), activity, arg)
	}
	l.pending++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { l.pending-- }()
		err := f.Get(ctx, nil)
		if quick && worthRetrying(err) {
			err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts),
				activity, arg).Get(ctx, nil)
		}
		now := workflow.Now(ctx)
		d.At = &now
		if err != nil {
			d.Status, d.Error = DeliveryFailed, failureText(err)
			l.logger.Warn("delivery failed", "delivery", name, "error", d.Error)
			if name != staffNotice {
				l.deliver(ctx, staffNotice, &l.state.Deliveries.StaffNotice, messageOptions,
					a.NotifyStaff, l.notice("Telehealth "+name+" failed", d.Error))
			}
		} else {
			d.Status, d.Error = DeliverySent, ""
		}
	})
}

// settle waits for every side effect still under way: a closed workflow would abandon
// them.
func (l *lifecycle) settle(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return l.pending == 0 })
}

// record writes the session-log record for the current status.
func (l *lifecycle) record(ctx workflow.Context) {
	b := l.in.Booking
	s := l.state
	l.deliver(ctx, "session log", &l.state.Deliveries.SessionLog, recordOptions,
		a.RecordSession, activities.LogRow{
			Timestamp:          workflow.Now(ctx),
			SessionID:          s.SessionID,
			BookingID:          s.BookingID,
			MeetingID:          s.MeetingID,
			PatientEmail:       b.PatientEmail,
			MeetingURL:         s.MeetingURL,
			ProviderURL:        s.ProviderURL,
			ScheduledStart:     s.ScheduledStart,
			DurationMinutes:    s.DurationMinutes,
			EncryptionEnabled:  s.Security.EncryptionEnabled,
			WaitingRoomEnabled: s.Security.WaitingRoomEnabled,
			RecordingEnabled:   s.Security.RecordingEnabled,
			ClientIP:           l.in.ClientIP,
			Status:             string(s.Status),
		})
}

func (l *lifecycle) notice(event, failure string) activities.Notice {
	b := l.in.Booking
	return activities.Notice{
		SessionID:    l.state.SessionID,
		Event:        event,
		MaskedEmail:  phi.MaskEmail(string(b.PatientEmail)),
		MaskedName:   phi.MaskName(string(b.PatientName)),
		ProviderName: b.ProviderName,
		Start:        b.ScheduledStart,
		Security:     l.state.Security,
		Failure:      failure,
	}
}

// fail ends a session that cannot go on: it is marked failed, staff are told (masked)
// and the session log shows it, the original's missing "error workflow".
func (l *lifecycle) fail(ctx workflow.Context, cause error) error {
	l.failure = cause
	l.state.Failure = failureText(cause)
	l.setStatus(ctx, StatusFailed)
	l.flush(ctx)
	l.logger.Error("session failed", "error", l.state.Failure)

	// The workflow is about to fail: these run on a context that its end cannot cancel.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	l.deliver(dctx, staffNotice, &l.state.Deliveries.StaffNotice, messageOptions,
		a.NotifyStaff, l.notice("Telehealth session failed", l.state.Failure))
	l.record(dctx)
	_ = l.settle(dctx)
	return cause
}

func (l *lifecycle) setStatus(ctx workflow.Context, s Status) {
	l.state.Status = s
	l.state.UpdatedAt = workflow.Now(ctx)
	l.upsert(ctx, SessionStatusAttr.ValueSet(string(s)))
}

// flush stops holding search-attribute updates and sets the held ones in one upsert.
func (l *lifecycle) flush(ctx workflow.Context) {
	held := l.held
	l.holding, l.held = false, nil
	if len(held) > 0 {
		l.upsert(ctx, held...)
	}
}

// upsert sets search attributes, or keeps them for the next flush while holding.
func (l *lifecycle) upsert(ctx workflow.Context, u ...temporal.SearchAttributeUpdate) {
	if l.holding {
		l.held = append(l.held, u...)
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, u...); err != nil {
		l.logger.Warn("search attribute not updated", "error", err)
	}
}

func (l *lifecycle) sleepUntil(ctx workflow.Context, t time.Time) error {
	if d := t.Sub(workflow.Now(ctx)); d > 0 {
		return workflow.Sleep(ctx, d)
	}
	return nil
}

// failureText is a failure's message without the SDK's wrapping; activity and platform
// errors carry ids and statuses only, never PHI.
func failureText(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if app.Type() != "" {
			return app.Type() + ": " + app.Message()
		}
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timed out: " + timeout.TimeoutType().String()
	}
	return err.Error()
}

// SessionID is the readable id of the session whose workflow first started at start
// with the run id firstRunID. Anyone who can describe the workflow can tell it, even
// before a worker has run it.
func SessionID(start time.Time, firstRunID string) string {
	sum := sha256.Sum256([]byte(firstRunID))
	n := binary.BigEndian.Uint64(sum[:8]) % 2176782336 // 36^6
	suffix := strconv.FormatUint(n, 36)
	for len(suffix) < 6 {
		suffix = "0" + suffix
	}
	return fmt.Sprintf("SESSION-%d-%s", start.UnixMilli(), suffix)
}
