package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// RecordingRef names one platform recording: a meeting instance's cloud recording.
type RecordingRef struct {
	RecordingID string `json:"recordingId"`
	SessionID   string `json:"sessionId"`
	MeetingUUID string `json:"meetingUuid"`
}

// DeleteRecording deletes the recording for good; one already gone is no failure.
func (a *Activities) DeleteRecording(ctx context.Context, r RecordingRef) error {
	return classify(a.Video.DeleteRecording(ctx, r.MeetingUUID))
}

// RetentionStarter starts a recording's retention workflow: at most once per workflow
// id, an id already started (running or closed) counting as started.
type RetentionStarter interface {
	StartRetention(ctx context.Context, taskQueue, workflowID string, input any) error
}

// RetentionStart is the StartRetention activity's input: the retention's workflow id
// (derived from the recording, no PHI), its task queue, and its input as JSON (the
// workflows package's RetentionInput, which this package cannot name).
type RetentionStart struct {
	WorkflowID string          `json:"workflowId"`
	TaskQueue  string          `json:"taskQueue"`
	Input      json.RawMessage `json:"input"`
}

// ErrTypeNotConfigured is the type of the failure of an activity whose client the
// worker was not given.
const ErrTypeNotConfigured = "NotConfigured"

// StartRetention starts a recording's retention workflow. Its id makes a retried
// attempt, a second session run or the API's start for a late event find the first.
func (a *Activities) StartRetention(ctx context.Context, s RetentionStart) error {
	if a.Retentions == nil {
		return temporal.NewNonRetryableApplicationError("no retention starter",
			ErrTypeNotConfigured, nil)
	}
	if err := a.Retentions.StartRetention(ctx, s.TaskQueue, s.WorkflowID,
		s.Input); err != nil {
		return fmt.Errorf("start retention: %w", err)
	}
	return nil
}
