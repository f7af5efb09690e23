package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/telehealth/sessions/internal/visits"
	"github.com/telehealth/sessions/workflows"
)

// Sessions is what the HTTP API needs of the workflow engine.
type Sessions interface {
	// Create starts the booking's session, or joins the one that exists, and waits up to
	// wait for its links.
	Create(
		ctx context.Context,
		in workflows.SessionInput,
		wait time.Duration,
	) (workflows.Links, error)
	// Get returns a session's current state.
	Get(ctx context.Context, sessionID string) (workflows.State, error)
	// Healthy reports whether the engine answers.
	Healthy(ctx context.Context) error
}

// Outcomes of Create and Get that are not failures of the service.
var (
	ErrConflict      = errors.New("booking exists with other terms")
	ErrMeetingFailed = errors.New("video meeting could not be created")
	ErrInvalid       = errors.New("booking rejected by the workflow")
	ErrNotFound      = errors.New("session not found")
	ErrCancelled     = errors.New("booking was cancelled")
	// ErrUnavailable is an engine that did not answer in time: nothing is known to have
	// happened, and the caller should try again.
	ErrUnavailable = errors.New("workflow engine unavailable")
)

// PendingError is returned by Create when the meeting does not exist yet after the wait
// (the platform is still being retried, or no worker has picked the session up). The
// session goes on, and SessionID names it.
type PendingError struct{ SessionID string }

func (e *PendingError) Error() string {
	return "session " + e.SessionID + " is still being created"
}

// Temporal implements Sessions on a Temporal client.
type Temporal struct {
	Client    client.Client
	TaskQueue string
	// Converter reads what a session was started with (the client's own data
	// converter); without one, a booking no worker has taken yet is not checked.
	Converter converter.DataConverter

	once sync.Once
	dir  *visits.Directory
	// created remembers, by session id, the workflow of each session this API has
	// told its caller of: a session that no worker has taken yet cannot be searched
	// for, and its caller was told to follow it by its id.
	created *lru.Cache[string, string]
}

// maxRemembered bounds the sessions a Temporal remembers by id.
const maxRemembered = 10_000

func (t *Temporal) remember(sessionID, workflowID string) {
	t.once.Do(t.prepare)
	t.created.Add(sessionID, workflowID)
}

// prepare makes the directory and the memory of created sessions, once.
func (t *Temporal) prepare() {
	t.dir = &visits.Directory{Client: t.Client}
	t.created, _ = lru.New[string, string](maxRemembered) // fails on size <= 0 only
}

// Create sends the CreateSession update with start: one round trip starts the workflow
// (or finds the booking's running one) and waits for the meeting.
func (t *Temporal) Create(
	ctx context.Context,
	in workflows.SessionInput,
	wait time.Duration,
) (workflows.Links, error) {
	id := workflows.WorkflowID(in.Booking.BookingID)
	terms := termsOf(in)
	start := t.withStart(id, in)

	// One deadline for the whole wait: without a worker, even the update's acceptance
	// never comes.
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	h, err := t.Client.UpdateWithStartWorkflow(wctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   workflows.CreateSessionUpdate,
			Args:         []any{terms},
			WaitForStage: client.WorkflowUpdateStageAccepted,
		},
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return t.fromClosed(ctx, id, terms)
	}
	var links workflows.Links
	if err == nil {
		err = h.Get(wctx, &links)
	}
	// The SDK may give up a moment before wctx's deadline, with its own error.
	var waited *client.WorkflowUpdateServiceTimeoutOrCanceledError
	if err != nil && (wctx.Err() != nil || errors.As(err, &waited)) && ctx.Err() == nil {
		// Our wait ran out, not the caller's: the session goes on without us.
		return workflows.Links{}, t.pending(ctx, id, terms)
	}
	if _, ok := errors.AsType[*serviceerror.WorkflowNotReady](err); ok {
		// The session's workflow task failed (a search attribute the server does not
		// know yet, a worker's fault) and is being tried again: the session goes on.
		return workflows.Links{}, t.pending(ctx, id, terms)
	}
	if err != nil {
		return workflows.Links{}, updateError(err)
	}
	t.directory().Remember(links.MeetingID, id)
	t.remember(links.SessionID, id)
	return links, nil
}

// withStart is the start half of an update-with-start on the booking's workflow id: it
// joins the running session, or starts one.
func (t *Temporal) withStart(
	workflowID string,
	in workflows.SessionInput,
) client.WithStartWorkflowOperation {
	return t.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       workflowID,
		TaskQueue:                t.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A booking whose session failed may be posted again; one that completed may not.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
	}, workflows.SessionLifecycle, in)
}

// pending reports a session still being created, with its id, which the server can
// tell without a worker. When the server cannot even show the workflow, nothing is
// known to have started: the engine is unavailable. A booking that no worker has
// taken yet is checked here, as the workflow would check it: other terms than those
// it was started with are a conflict.
func (t *Temporal) pending(
	ctx context.Context,
	workflowID string,
	terms workflows.BookingTerms,
) error {
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	d, err := t.Client.DescribeWorkflowExecution(dctx, workflowID, "")
	if err != nil {
		return fmt.Errorf("%w: describe session: %w", ErrUnavailable, err)
	}
	info := d.GetWorkflowExecutionInfo()
	runID := info.GetExecution().GetRunId()
	if started, ok := t.untakenTerms(dctx, workflowID, runID); ok && terms.Conflicts(started) {
		return ErrConflict
	}
	first := cmp.Or(info.GetFirstRunId(), runID)
	sessionID := workflows.SessionID(info.GetStartTime().AsTime(), first)
	t.remember(sessionID, workflowID)
	return &PendingError{SessionID: sessionID}
}

// untakenTerms reads the terms a run was started with, when no worker has completed a
// task of it yet; ok is false otherwise, or when they cannot be read.
func (t *Temporal) untakenTerms(ctx context.Context, workflowID, runID string) (
	terms workflows.BookingTerms, ok bool) {
	if t.Converter == nil {
		return terms, false
	}
	var in workflows.SessionInput
	iter := t.Client.GetWorkflowHistory(ctx, workflowID, runID, false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil || e.EventType == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			return terms, false // taken: the workflow's own check answers
		}
		if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			if err := t.Converter.FromPayloads(a.GetInput(), &in); err != nil {
				return terms, false
			}
		}
	}
	b := in.Booking
	return workflows.BookingTerms{ScheduledStart: b.ScheduledStart,
		DurationMinutes: b.DurationMinutes, Fingerprint: b.Fingerprint()}, b.BookingID != ""
}

// fromClosed answers a booking whose session has already completed: the same terms get
// the same links, other terms a conflict.
func (t *Temporal) fromClosed(
	ctx context.Context,
	id string,
	terms workflows.BookingTerms,
) (workflows.Links, error) {
	state, err := t.query(ctx, id, "")
	if err != nil {
		return workflows.Links{}, err
	}
	if state.Status == workflows.StatusCancelled {
		return workflows.Links{}, ErrCancelled
	}
	if terms.Conflicts(state.Terms()) {
		return workflows.Links{}, ErrConflict
	}
	return state.Links(), nil
}

var sessionIDPattern = regexp.MustCompile(`^SESSION-[0-9]{13}-[0-9a-z]{6}$`)

// Get finds a session by its id through the SessionId search attribute and queries it.
func (t *Temporal) Get(ctx context.Context, sessionID string) (workflows.State, error) {
	exec, err := t.find(ctx, sessionID)
	if err != nil {
		return workflows.State{}, err
	}
	return t.query(ctx, exec.WorkflowId, exec.RunId)
}

// find returns the run that carries a session id.
func (t *Temporal) find(ctx context.Context, sessionID string) (
	*commonpb.WorkflowExecution, error) {
	// The pattern also keeps the visibility query below free of injection.
	if !sessionIDPattern.MatchString(sessionID) {
		return nil, ErrNotFound
	}
	req := &workflowservice.ListWorkflowExecutionsRequest{
		// A run that continued as new is not the session's current state.
		Query: fmt.Sprintf("%s = '%s' AND ExecutionStatus != 'ContinuedAsNew'",
			workflows.SessionIDAttr.GetName(), sessionID),
	}
	for attempt := 0; ; attempt++ {
		resp, err := t.Client.ListWorkflow(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		if len(resp.Executions) > 0 {
			// The run that carries this session id, not the booking's latest run.
			return resp.Executions[0].Execution, nil
		}
		if attempt == 1 {
			return t.remembered(sessionID)
		}
		// The session's links reach its caller with the task that indexes it: a
		// session created a moment ago may not be searchable yet.
		select {
		case <-time.After(visibilityLag):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// remembered is the workflow of a session this API created and search does not show
// yet; its latest run, which is the session's until a worker has taken it.
func (t *Temporal) remembered(sessionID string) (*commonpb.WorkflowExecution, error) {
	t.once.Do(t.prepare)
	if id, ok := t.created.Get(sessionID); ok {
		return &commonpb.WorkflowExecution{WorkflowId: id}, nil
	}
	return nil, ErrNotFound
}

// visibilityLag is how long a search that found no session waits to look once more.
const visibilityLag = 300 * time.Millisecond

// CountByStatus counts the sessions, open and closed, whose status is status.
func (t *Temporal) CountByStatus(ctx context.Context, status string) (int64, error) {
	resp, err := t.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Query: fmt.Sprintf("%s = '%s'", workflows.SessionStatusAttr.GetName(), status),
	})
	if err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return resp.GetCount(), nil
}

// Healthy checks the Temporal connection.
func (t *Temporal) Healthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := t.Client.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

func (t *Temporal) query(
	ctx context.Context,
	workflowID, runID string,
) (workflows.State, error) {
	var state workflows.State
	if err := t.queryInto(ctx, workflowID, runID, workflows.SessionQuery,
		&state); err != nil {
		return workflows.State{}, err
	}
	return state, nil
}

// queryInto runs the named query on the run (its workflow's current one when runID is
// empty) and decodes the answer into out.
func (t *Temporal) queryInto(
	ctx context.Context,
	workflowID, runID, name string,
	out any,
) error {
	what := strings.ToLower(name)
	v, err := t.Client.QueryWorkflow(ctx, workflowID, runID, name)
	if err != nil {
		return fmt.Errorf("query %s: %w", what, err)
	}
	if err := v.Get(out); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}

func termsOf(in workflows.SessionInput) workflows.BookingTerms {
	terms := workflows.BookingTerms{
		DurationMinutes: in.Booking.DurationMinutes,
		Fingerprint:     in.Booking.Fingerprint(),
	}
	if !in.Booking.StartDefaulted {
		terms.ScheduledStart = in.Booking.ScheduledStart
	}
	return terms
}

// updateError maps the workflow's typed failures onto the API's outcomes.
func updateError(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case workflows.ErrTypeBookingConflict:
			return ErrConflict
		case workflows.ErrTypeMeetingFailed:
			return fmt.Errorf("%w: %s", ErrMeetingFailed, app.Message())
		case workflows.ErrTypeInvalidBooking:
			return fmt.Errorf("%w: %s", ErrInvalid, app.Message())
		case workflows.ErrTypeSessionCancelled:
			return ErrCancelled
		}
	}
	return fmt.Errorf("create session: %w", err)
}
