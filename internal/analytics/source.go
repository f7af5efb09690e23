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
	pageSize   = 500
)

// TooManyError is a range that holds more sessions than the caller's limit.
type TooManyError struct{ Limit int }

func (e *TooManyError) Error() string {
	return fmt.Sprintf("more than %d sessions in the range", e.Limit)
}

// Source lists sessions from Temporal: the visibility store finds the runs whose
// ScheduledStart is in a range, and each run's Session query gives its state, reduced
// at once to its Session facts. Closed runs never change, so their facts are kept in
// memory; open ones are queried each time.
type Source struct {
	Client client.Client
	// DataConverter decodes a run's input for Contact: the service's codec converter.
	// Nil is the SDK's default, which cannot open sealed payloads.
	DataConverter converter.DataConverter
	// Concurrency bounds the queries in flight; zero is DefaultConcurrency.
	Concurrency int

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
	errs := make([]error, len(runs))
	sem := make(chan struct{}, cmp.Or(s.Concurrency, DefaultConcurrency))
	var wg sync.WaitGroup
	for i, run := range runs {
		if sess, ok := s.cached(run.runID); ok {
			out[i] = sess
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = s.session(ctx, run)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
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

// run is one execution found in the visibility store.
type run struct {
	workflowID, runID string
	closed            bool
}

// list finds the runs whose ScheduledStart is in r, at most limit.
func (s *Source) list(ctx context.Context, r Range, limit int) ([]run, error) {
	// Times formatted by us: nothing from the caller reaches the query.
	query := fmt.Sprintf("WorkflowType = 'SessionLifecycle' AND %s >= '%s' AND %s < '%s'"+
		" AND ExecutionStatus != 'ContinuedAsNew'",
		workflows.ScheduledStartAttr.GetName(), r.From.UTC().Format(time.RFC3339Nano),
		workflows.ScheduledStartAttr.GetName(), r.To.UTC().Format(time.RFC3339Nano))
	req := &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: pageSize}
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
				closed: e.GetStatus() !=
					enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
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

// session queries one run's state and keeps a closed run's facts.
func (s *Source) session(ctx context.Context, r run) (Session, error) {
	v, err := s.Client.QueryWorkflow(ctx, r.workflowID, r.runID, workflows.SessionQuery)
	if err != nil {
		return Session{}, fmt.Errorf("query session: %w", err)
	}
	var state workflows.State
	if err := v.Get(&state); err != nil {
		return Session{}, fmt.Errorf("decode session: %w", err)
	}
	sess := FromState(state)
	sess.WorkflowID, sess.RunID = r.workflowID, r.runID
	if r.closed {
		s.mu.Lock()
		if s.closed == nil || len(s.closed) >= cacheLimit {
			s.closed = map[string]Session{}
		}
		s.closed[r.runID] = sess
		s.mu.Unlock()
	}
	return sess, nil
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
	dc := s.DataConverter
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	var in workflows.SessionInput
	if err := dc.FromPayloads(attrs.GetInput(), &in); err != nil {
		return Contact{}, fmt.Errorf("decode session input: %w", err)
	}
	return Contact{Name: in.Booking.PatientName, Email: in.Booking.PatientEmail}, nil
}
