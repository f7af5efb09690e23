package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/telehealth/sessions/internal/analytics"
	"github.com/telehealth/sessions/workflows"
)

// visibility is a client.Client whose visibility store holds runs, served in pages,
// and whose runs answer the Session query and hold their result in their history.
// Only the calls the Source makes are implemented.
type visibility struct {
	client.Client
	runs   []fakeRun
	states map[string]workflows.State // by run id

	mu       sync.Mutex
	queries  []string // visibility queries, one per page asked
	sizes    []int32
	asked    map[string]int // Session queries by run id
	historic map[string]int // close-event reads by run id
}

type fakeRun struct {
	id     string
	status enumspb.WorkflowExecutionStatus
}

func (v *visibility) ListWorkflow(_ context.Context,
	req *workflowservice.ListWorkflowExecutionsRequest) (
	*workflowservice.ListWorkflowExecutionsResponse, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.queries = append(v.queries, req.GetQuery())
	v.sizes = append(v.sizes, req.GetPageSize())
	start := 0
	if tok := req.GetNextPageToken(); len(tok) > 0 {
		if _, err := fmt.Sscan(string(tok), &start); err != nil {
			return nil, err
		}
	}
	end := min(start+int(req.GetPageSize()), len(v.runs))
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for _, r := range v.runs[start:end] {
		resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: "wf-" + r.id, RunId: r.id},
			Status:    r.status,
		})
	}
	if end < len(v.runs) {
		resp.NextPageToken = []byte(fmt.Sprint(end))
	}
	return resp, nil
}

func (v *visibility) QueryWorkflow(_ context.Context, _, runID, query string,
	_ ...any) (converter.EncodedValue, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if query != workflows.SessionQuery {
		return nil, errors.New("unknown query")
	}
	v.asked[runID]++
	p, err := converter.GetDefaultDataConverter().ToPayload(v.states[runID])
	if err != nil {
		return nil, err
	}
	return encoded{p}, nil
}

func (v *visibility) GetWorkflowHistory(_ context.Context, _, runID string, _ bool,
	filter enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	v.mu.Lock()
	defer v.mu.Unlock()
	if filter != enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT {
		return &events{}
	}
	v.historic[runID]++
	ps, err := converter.GetDefaultDataConverter().ToPayloads(v.states[runID])
	if err != nil {
		panic(err)
	}
	return &events{list: []*historypb.HistoryEvent{{
		EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes{
			WorkflowExecutionCompletedEventAttributes: &historypb.
				WorkflowExecutionCompletedEventAttributes{Result: ps},
		},
	}}}
}

type encoded struct{ p *commonpb.Payload }

func (e encoded) HasValue() bool { return e.p != nil }

func (e encoded) Get(ptr any) error {
	return converter.GetDefaultDataConverter().FromPayload(e.p, ptr)
}

type events struct{ list []*historypb.HistoryEvent }

func (e *events) HasNext() bool { return len(e.list) > 0 }

func (e *events) Next() (*historypb.HistoryEvent, error) {
	ev := e.list[0]
	e.list = e.list[1:]
	return ev, nil
}

// store holds n sessions scheduled an hour apart from day0, in reverse order; every
// third run completed, every third failed, the rest running.
func store(n int) *visibility {
	v := &visibility{states: map[string]workflows.State{}, asked: map[string]int{},
		historic: map[string]int{}}
	for i := range n {
		id := fmt.Sprintf("run-%02d", i)
		status := []enumspb.WorkflowExecutionStatus{
			enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED,
			enumspb.WORKFLOW_EXECUTION_STATUS_FAILED,
			enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
		}[i%3]
		v.runs = append(v.runs, fakeRun{id: id, status: status})
		v.states[id] = state(fmt.Sprintf("SESSION-%02d", i),
			at(n-i, 0), workflows.StatusScheduled)
	}
	return v
}

func TestSourcePagesThroughVisibility(t *testing.T) {
	v := store(7)
	src := &analytics.Source{Client: v, PageSize: 3}
	r := analytics.Range{From: day0, To: day0.AddDate(0, 0, 1)}

	got, err := src.Sessions(t.Context(), r, 10)
	require.NoError(t, err)
	require.Len(t, got, 7)
	for i, s := range got {
		assert.Equal(t, fmt.Sprintf("SESSION-%02d", 6-i), s.SessionID,
			"by scheduled start")
		assert.Equal(t, fmt.Sprintf("run-%02d", 6-i), s.RunID)
	}
	require.Len(t, v.queries, 3, "7 runs in pages of 3")
	assert.Equal(t, []int32{3, 3, 3}, v.sizes)
	assert.Equal(t, "WorkflowType = 'SessionLifecycle' AND "+
		"ScheduledStart >= '2026-12-01T00:00:00Z' AND "+
		"ScheduledStart < '2026-12-02T00:00:00Z' AND ExecutionStatus != 'ContinuedAsNew'",
		v.queries[0])

	// Completed runs were read from their close event, the others by query.
	assert.Equal(t, map[string]int{"run-00": 1, "run-03": 1, "run-06": 1}, v.historic)
	assert.Len(t, v.asked, 4)

	// Again: closed runs (completed and failed) come from the cache; running ones are
	// asked again.
	_, err = src.Sessions(t.Context(), r, 10)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"run-00": 1, "run-03": 1, "run-06": 1}, v.historic)
	assert.Equal(t, map[string]int{"run-01": 1, "run-04": 1, "run-02": 2, "run-05": 2},
		v.asked)
}

func TestSourceStopsPastTheLimit(t *testing.T) {
	v := store(10)
	src := &analytics.Source{Client: v, PageSize: 3}
	r := analytics.Range{From: day0, To: day0.AddDate(0, 0, 1)}

	_, err := src.Sessions(t.Context(), r, 5)
	var tooMany *analytics.TooManyError
	require.ErrorAs(t, err, &tooMany)
	assert.Equal(t, 5, tooMany.Limit)
	assert.Len(t, v.queries, 2, "6 runs seen after two pages: the rest is not read")
	assert.Empty(t, v.asked, "no session is read for a refused range")
	assert.Empty(t, v.historic)

	// Exactly at the limit is served.
	got, err := (&analytics.Source{Client: store(6), PageSize: 3}).Sessions(
		t.Context(), r, 6)
	require.NoError(t, err)
	assert.Len(t, got, 6)
}

func TestSourceStopsAtTheFirstFailedRead(t *testing.T) {
	// run-00 completed (read from its history), run-01 failed: it is queried, and
	// fails; one at a time, nothing after it is read.
	f := &failingQuery{visibility: store(9)}
	src := &analytics.Source{Client: f, Concurrency: 1}
	_, err := src.Sessions(t.Context(), analytics.Range{From: day0,
		To: day0.Add(24 * time.Hour)}, 10)
	require.Error(t, err)
	assert.Equal(t, "query session: worker unavailable", err.Error())
	assert.Equal(t, 1, f.calls)
	assert.Equal(t, map[string]int{"run-00": 1}, f.historic)
}

// failingQuery is a store whose runs do not answer their query.
type failingQuery struct {
	*visibility
	calls int
}

func (f *failingQuery) QueryWorkflow(context.Context, string, string, string,
	...any) (converter.EncodedValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return nil, errors.New("worker unavailable")
}
