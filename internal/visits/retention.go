package visits

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/telehealth/sessions/workflows"
)

// MaxPendingDeletions caps the list of recordings pending deletion.
const MaxPendingDeletions = 1000

// PendingDeletion is a recording whose retention has not deleted it yet.
type PendingDeletion struct {
	RecordingID string    `json:"recording_id"`
	WorkflowID  string    `json:"workflow_id"`
	DeleteAt    time.Time `json:"delete_at"`
	LegalHold   bool      `json:"legal_hold"`
	StartedAt   time.Time `json:"started_at"`
}

// PendingDeletions lists, soonest first, the recordings whose retention is running,
// from the visibility store's search attributes alone; truncated says the list was cut
// at MaxPendingDeletions.
func (d *Directory) PendingDeletions(ctx context.Context) (
	out []PendingDeletion, truncated bool, err error) {
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'",
		workflows.RecordingRetentionWorkflow)
	req := &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 200}
	dc := converter.GetDefaultDataConverter()
	for {
		resp, err := d.Client.ListWorkflow(ctx, req)
		if err != nil {
			return nil, false, fmt.Errorf("list retentions: %w", err)
		}
		for _, e := range resp.Executions {
			id := e.Execution.WorkflowId
			p := PendingDeletion{
				RecordingID: strings.TrimPrefix(id, workflows.RetentionWorkflowID("")),
				WorkflowID:  id,
				StartedAt:   e.GetStartTime().AsTime(),
			}
			fields := e.GetSearchAttributes().GetIndexedFields()
			if v, ok := fields[workflows.RetentionDeleteAtAttr.GetName()]; ok {
				_ = dc.FromPayload(v, &p.DeleteAt)
			}
			if v, ok := fields[workflows.LegalHoldAttr.GetName()]; ok {
				_ = dc.FromPayload(v, &p.LegalHold)
			}
			out = append(out, p)
		}
		if len(resp.NextPageToken) == 0 || len(out) >= MaxPendingDeletions {
			truncated = len(resp.NextPageToken) != 0
			break
		}
		req.NextPageToken = resp.NextPageToken
	}
	slices.SortFunc(out, func(a, b PendingDeletion) int {
		return a.DeleteAt.Compare(b.DeleteAt)
	})
	return out, truncated, nil
}

// StartRetention starts a recording's RecordingRetention with the given id, once: a
// retention of that id that is running or has closed counts as started, so a
// retried start, a redelivered event or another starter never makes a second one.
func (d *Directory) StartRetention(ctx context.Context, taskQueue, workflowID string,
	input any) error {
	_, err := d.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflowID,
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.RecordingRetentionWorkflow, input)
	if _, ok := errors.AsType[*serviceerror.WorkflowExecutionAlreadyStarted](err); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("start retention: %w", err)
	}
	return nil
}

// SessionOfMeeting returns the id of the session, open or closed, that has the
// meeting, from its SessionId search attribute; ErrNotIndexed when none is known.
func (d *Directory) SessionOfMeeting(ctx context.Context, meetingID string) (
	string, error) {
	if !meetingIDPattern.MatchString(meetingID) {
		return "", ErrNotIndexed
	}
	query := fmt.Sprintf("%s = '%s'", workflows.MeetingIDAttr.GetName(), meetingID)
	resp, err := d.Client.ListWorkflow(ctx,
		&workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1})
	if err != nil {
		return "", fmt.Errorf("find session of meeting: %w", err)
	}
	if len(resp.Executions) == 0 {
		return "", ErrNotIndexed
	}
	fields := resp.Executions[0].GetSearchAttributes().GetIndexedFields()
	var id string
	if v, ok := fields[workflows.SessionIDAttr.GetName()]; ok {
		_ = converter.GetDefaultDataConverter().FromPayload(v, &id)
	}
	if id == "" {
		return "", errors.New("find session of meeting: no session id")
	}
	return id, nil
}
