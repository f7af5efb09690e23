package api_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/mocks"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/workflows"
)

// TestFailedWorkflowTaskIsPending: Temporal answers an update whose workflow task
// failed (a search attribute a new server does not know yet) with WorkflowNotReady,
// and tries the task again. The session goes on: the caller hears it is pending,
// with its id, not that it failed.
func TestFailedWorkflowTaskIsPending(t *testing.T) {
	c := &mocks.Client{}
	c.On("NewWithStartWorkflowOperation", mock.Anything, mock.Anything, mock.Anything).
		Return(nil)
	c.On("UpdateWithStartWorkflow", mock.Anything, mock.Anything).Return(nil,
		serviceerror.NewWorkflowNotReady("Unable to perform workflow execution update "+
			"due to unexpected workflow task failure."))
	started := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	c.On("DescribeWorkflowExecution", mock.Anything, mock.Anything, "").Return(
		&workflowservice.DescribeWorkflowExecutionResponse{
			WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
				StartTime:  timestamppb.New(started),
				FirstRunId: "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
			},
		}, nil)

	tc := &api.Temporal{Client: c, TaskQueue: "sessions"}
	_, err := tc.Create(t.Context(), workflows.SessionInput{}, time.Second)

	pending, ok := errors.AsType[*api.PendingError](err)
	require.True(t, ok, "got %v", err)
	require.Equal(t, workflows.SessionID(started, "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"),
		pending.SessionID)
}
