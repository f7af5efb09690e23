package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/telehealth/sessions/internal/audit"
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

// Auditor appends to the audit log (internal/audit).
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
	// AppendOnce appends nothing when the entry is there already.
	AppendOnce(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// Audit log entries of recording retention.
const (
	// AuditActorRetention is the actor of the entries the retention writes.
	AuditActorRetention = "recording-retention"
	// AuditActionDeleteRecording is the action of a recording's deletion.
	AuditActionDeleteRecording = "delete recording"
)

// RecordingDeletion is a recording's deletion as the audit log keeps it: ids and the
// time only.
type RecordingDeletion struct {
	RecordingID string    `json:"recordingId"`
	SessionID   string    `json:"sessionId"`
	DeletedAt   time.Time `json:"deletedAt"`
}

// AuditRecordingDeletion appends a recording's deletion to the audit log: actor
// recording-retention, the session id, action "delete recording", and the outcome
// "deleted <recording id>". A retry appends it only if the first try did not.
func (a *Activities) AuditRecordingDeletion(ctx context.Context, d RecordingDeletion) error {
	if a.Audit == nil {
		return temporal.NewNonRetryableApplicationError("no audit log",
			ErrTypeNotConfigured, nil)
	}
	if d.RecordingID == "" {
		return temporal.NewNonRetryableApplicationError("deletion without a recording id",
			ErrTypeDeliveryRejected, errors.New("no recording id"))
	}
	e := audit.Entry{
		Time:      d.DeletedAt,
		Actor:     AuditActorRetention,
		SessionID: d.SessionID,
		Action:    AuditActionDeleteRecording,
		Outcome:   "deleted " + d.RecordingID,
	}
	appendEntry := a.Audit.Append
	if activity.GetInfo(ctx).Attempt > 1 {
		appendEntry = a.Audit.AppendOnce
	}
	if _, err := appendEntry(ctx, e); err != nil {
		return fmt.Errorf("audit deletion: %w", err)
	}
	return nil
}
