package analytics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/workflows"
)

// Source bounds and defaults.
const (
	// DefaultConcurrency is how many Session queries run at once.
	DefaultConcurrency = 8
	// cacheLimit caps the closed sessions kept in memory (a few hundred bytes each);
	// past it the cache starts again.
	cacheLimit = 50_000
	// DefaultPageSize is the runs asked of the visibility store a page.
	DefaultPageSize = 500
)

// TooManyError is a range that holds more sessions than the caller's limit.
type TooManyError struct{ Limit int }

func (e *TooManyError) Error() string {
	return fmt.Sprintf("more than %d sessions in the range", e.Limit)
}

// Source lists sessions from Temporal: the visibility store finds the runs whose
// ScheduledStart is in a range, a page at a time, and each run's state (a completed
// run's result, else its Session query) is reduced at once to its Session facts.
// Closed runs never change, so their facts are kept in memory; open ones are queried
// each time.
type Source struct {
	Client client.Client
	// DataConverter decodes a run's input for Contact: the service's codec converter.
	// Nil is the SDK's default, which cannot open sealed payloads.
	DataConverter converter.DataConverter
	// Concurrency bounds the queries in flight; zero is DefaultConcurrency.
	Concurrency int
	// PageSize is the runs asked of the visibility store a page; zero is
	// DefaultPageSize.
	PageSize int

	mu     sync.Mutex
	closed map[string]Session // by run id
}

// Sessions lists the sessions scheduled in r, by scheduled start. More than limit is a
// *TooManyError: the caller narrows the range rather than get part of it.
func (s *Source) Sessions(ctx context.Context, r Range, limit int) ([]Session, error) {
	runs, err := s.list(ctx, r, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Session, len(runs))
	err = s.each(len(runs), func(i int) error {
		var err error
		out[i], err = s.session(ctx, runs[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Session) int {
		if c := a.ScheduledStart.Compare(b.ScheduledStart); c != 0 {
			return c
		}
		return strings.Compare(a.SessionID, b.SessionID)
	})
	return out, nil
}

// Contacts reads the patients of sessions (see Contact), Concurrency at a time.
func (s *Source) Contacts(ctx context.Context, sessions []Session) ([]Contact, error) {
	out := make([]Contact, len(sessions))
	err := s.each(len(sessions), func(i int) error {
		var err error
		out[i], err = s.Contact(ctx, sessions[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// each runs f for 0..n-1, Concurrency at a time. After a failure it starts no more
// (a deadline would fail every one of them) and returns the first error.
func (s *Source) each(n int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil
	}
	sem := make(chan struct{}, cmp.Or(s.Concurrency, DefaultConcurrency))
	for i := range n {
		sem <- struct{}{}
		if failed() {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// run is one execution found in the visibility store.
type run struct {
	workflowID, runID string
	status            enumspb.WorkflowExecutionStatus
}

// list finds the runs whose ScheduledStart is in r, a page at a time; past limit it
// stops, without reading further pages.
func (s *Source) list(ctx context.Context, r Range, limit int) ([]run, error) {
	// Times formatted by us: nothing from the caller reaches the query.
	query := fmt.Sprintf("WorkflowType = 'SessionLifecycle' AND %s >= '%s' AND %s < '%s'"+
		" AND ExecutionStatus != 'ContinuedAsNew'",
		workflows.ScheduledStartAttr.GetName(), r.From.UTC().Format(time.RFC3339Nano),
		workflows.ScheduledStartAttr.GetName(), r.To.UTC().Format(time.RFC3339Nano))
	req := &workflowservice.ListWorkflowExecutionsRequest{Query: query,
		PageSize: int32(cmp.Or(s.PageSize, DefaultPageSize))}
	var out []run
	for {
		resp, err := s.Client.ListWorkflow(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		for _, e := range resp.Executions {
			out = append(out, run{
				workflowID: e.GetExecution().GetWorkflowId(),
				runID:      e.GetExecution().GetRunId(),
				status:     e.GetStatus(),
			})
		}
		if len(out) > limit {
			return nil, &TooManyError{Limit: limit}
		}
		if len(resp.NextPageToken) == 0 {
			return out, nil
		}
		req.NextPageToken = resp.NextPageToken
	}
}

// session reads one run's facts: a closed run's from the cache, or else from its
// result (the final State that a completed SessionLifecycle returns: one history
// event, no replay); an open or failed run's from its Session query. A closed run's
// facts are kept.
func (s *Source) session(ctx context.Context, r run) (Session, error) {
	closed := r.status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if sess, ok := s.cached(r.runID); ok && closed {
		return sess, nil
	}
	var (
		state workflows.State
		err   error = errNoResult
	)
	if r.status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		state, err = s.result(ctx, r)
	}
	if err != nil {
		// No result (open, failed), or one that cannot be read: ask the run.
		if state, err = s.query(ctx, r); err != nil {
			return Session{}, err
		}
	}
	sess := FromState(state)
	sess.WorkflowID, sess.RunID = r.workflowID, r.runID
	if closed {
		s.mu.Lock()
		if s.closed == nil || len(s.closed) >= cacheLimit {
			s.closed = map[string]Session{}
		}
		s.closed[r.runID] = sess
		s.mu.Unlock()
	}
	return sess, nil
}

var errNoResult = errors.New("no result")

// query asks the run for its state: the worker replays a closed run to answer.
func (s *Source) query(ctx context.Context, r run) (workflows.State, error) {
	var state workflows.State
	v, err := s.Client.QueryWorkflow(ctx, r.workflowID, r.runID, workflows.SessionQuery)
	if err != nil {
		return state, fmt.Errorf("query session: %w", err)
	}
	if err := v.Get(&state); err != nil {
		return state, fmt.Errorf("decode session: %w", err)
	}
	return state, nil
}

// result reads a completed run's result, its final State, from its close event.
func (s *Source) result(ctx context.Context, r run) (workflows.State, error) {
	var state workflows.State
	it := s.Client.GetWorkflowHistory(ctx, r.workflowID, r.runID, false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	if !it.HasNext() {
		return state, errNoResult
	}
	ev, err := it.Next()
	if err != nil {
		return state, fmt.Errorf("read session result: %w", err)
	}
	attrs := ev.GetWorkflowExecutionCompletedEventAttributes()
	if attrs == nil {
		return state, errNoResult
	}
	if err := s.converter().FromPayloads(attrs.GetResult(), &state); err != nil {
		return state, fmt.Errorf("decode session result: %w", err)
	}
	return state, nil
}

func (s *Source) converter() converter.DataConverter {
	if s.DataConverter == nil {
		return converter.GetDefaultDataConverter()
	}
	return s.DataConverter
}

func (s *Source) cached(runID string) (Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.closed[runID]
	return sess, ok
}

// Contact is the patient's name and email: PHI. It is read on request only, for an
// export by a key allowed to see PHI, and never kept or logged.
type Contact struct {
	Name  phi.Name
	Email phi.Email
}

// Contact reads the patient of a session's run from the run's input (the first event
// of its history, sealed by the codec, opened here by the DataConverter). A run that
// continued as new carries the same booking in its input.
func (s *Source) Contact(ctx context.Context, sess Session) (Contact, error) {
	it := s.Client.GetWorkflowHistory(ctx, sess.WorkflowID, sess.RunID, false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return Contact{}, errors.New("read session input: empty history")
	}
	ev, err := it.Next()
	if err != nil {
		return Contact{}, fmt.Errorf("read session input: %w", err)
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil {
		return Contact{}, errors.New("read session input: first event is not the start")
	}
	var in workflows.SessionInput
	if err := s.converter().FromPayloads(attrs.GetInput(), &in); err != nil {
		return Contact{}, fmt.Errorf("decode session input: %w", err)
	}
	return Contact{Name: in.Booking.PatientName, Email: in.Booking.PatientEmail}, nil
}
