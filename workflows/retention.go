package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/activities"
)

// Recording retention's contract. Like the session's message names, these are stored
// in histories: never rename or reuse one.
const (
	// RecordingRetentionWorkflow is the workflow type of RecordingRetention.
	RecordingRetentionWorkflow = "RecordingRetention"
	// LegalHoldSignal (payload LegalHold) places or releases a legal hold on a
	// recording: while it holds, the recording is not deleted.
	LegalHoldSignal = "LegalHold"
	// RetentionQuery returns a RecordingRetention's RetentionState.
	RetentionQuery = "Retention"
)

// DefaultRecordingRetention is how long a recording is kept when the policy does not
// say: seven years (2555 days).
const DefaultRecordingRetention = 2555 * 24 * time.Hour

// Recording is one meeting instance's cloud recording, as a session keeps it: ids,
// sizes and types, and a download reference with every token stripped. It lives in
// workflow state and history only, which the payload codec encrypts.
type Recording struct {
	// ID is the opaque recording id (see RecordingID); it names the retention.
	ID       string `json:"id"`
	Platform string `json:"platform"`
	// MeetingID is the meeting number; MeetingUUID the instance that was recorded.
	MeetingID   string          `json:"meetingId"`
	MeetingUUID string          `json:"meetingUuid"`
	CompletedAt time.Time       `json:"completedAt"`
	Files       []RecordingFile `json:"files,omitempty"`
}

// RecordingFile is one file of a recording.
type RecordingFile struct {
	ID            string `json:"id"`
	FileType      string `json:"fileType,omitempty"`
	RecordingType string `json:"recordingType,omitempty"`
	Size          int64  `json:"size,omitempty"`
	// DownloadURL is where the file is, without query or fragment: fetching it takes
	// the platform's API credentials, and no download token is ever kept.
	DownloadURL string `json:"downloadUrl,omitempty"`
}

// RecordingID is the opaque id of a platform's recording of a meeting instance.
func RecordingID(platform, meetingUUID string) string {
	sum := sha256.Sum256([]byte("recording:" + platform + "|" + meetingUUID))
	return "rec-" + hex.EncodeToString(sum[:12])
}

// RetentionWorkflowID is the workflow id of a recording's retention: one per
// recording, whoever starts it.
func RetentionWorkflowID(recordingID string) string { return "retention-" + recordingID }

// RetentionInput starts a RecordingRetention.
type RetentionInput struct {
	Recording Recording `json:"recording"`
	SessionID string    `json:"sessionId"`
	// Retain is how long after its completion the recording is kept; zero takes
	// DefaultRecordingRetention.
	Retain time.Duration `json:"retain,omitempty"`
}

// LegalHold is the LegalHoldSignal's payload.
type LegalHold struct {
	// Hold places the hold; false releases it.
	Hold bool `json:"hold"`
}

// RetentionStatus is where a recording's retention is.
type RetentionStatus string

// Retention statuses.
const (
	RetentionPending RetentionStatus = "pending"
	RetentionHeld    RetentionStatus = "held"
	RetentionDeleted RetentionStatus = "deleted"
	RetentionFailed  RetentionStatus = "failed"
)

// RetentionState is what the RetentionQuery reports; it is also the workflow's
// result, and a record of the deletion beside the audit log's. It holds ids and
// times only.
type RetentionState struct {
	RecordingID string          `json:"recordingId"`
	SessionID   string          `json:"sessionId"`
	Platform    string          `json:"platform"`
	MeetingID   string          `json:"meetingId"`
	CompletedAt time.Time       `json:"completedAt"`
	DeleteAt    time.Time       `json:"deleteAt"`
	Status      RetentionStatus `json:"status"`
	LegalHold   bool            `json:"legalHold"`
	// Holds lists every hold placed or released, in order.
	Holds     []HoldChange `json:"holds,omitempty"`
	DeletedAt *time.Time   `json:"deletedAt,omitempty"`
	// Error is the classified failure of a deletion the platform refused.
	Error string `json:"error,omitempty"`
	// AuditError is why a done deletion is missing from the audit log.
	AuditError string `json:"auditError,omitempty"`
}

// HoldChange is one legal hold placed or released.
type HoldChange struct {
	Hold bool      `json:"hold"`
	At   time.Time `json:"at"`
}

// deleteOptions keep trying a deletion the platform cannot do now, backing off to
// hours: only a refusal (a permanent error) stops them.
var deleteOptions = workflow.ActivityOptions{
	StartToCloseTimeout: time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Minute,
		BackoffCoefficient:     2,
		MaximumInterval:        6 * time.Hour,
		NonRetryableErrorTypes: []string{activities.ErrTypePlatformRejected},
	},
}

// retentionAuditChange names, in workflow.GetVersion, appending the deletion to the
// audit log through the AuditRecordingDeletion activity.
const retentionAuditChange = "retention-audit"

// auditOptions retry an audit append the database cannot take now, for a day.
var auditOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrTypeNotConfigured},
	},
}

// RecordingRetention keeps a recording for its retention period from its completion,
// then deletes it through the platform's API and appends the deletion to the audit
// log. A legal hold stops the deletion for as long as it lasts; the deletion then
// happens at once if its time has passed. The workflow is durable: a worker restart
// resumes the wait where it was.
func RecordingRetention(ctx workflow.Context, in RetentionInput) (RetentionState, error) {
	rec := in.Recording
	retain := in.Retain
	if retain <= 0 {
		retain = DefaultRecordingRetention
	}
	st := RetentionState{
		RecordingID: rec.ID,
		SessionID:   in.SessionID,
		Platform:    rec.Platform,
		MeetingID:   rec.MeetingID,
		CompletedAt: rec.CompletedAt,
		DeleteAt:    rec.CompletedAt.Add(retain),
		Status:      RetentionPending,
	}
	logger := log.With(workflow.GetLogger(ctx), "recording_id", rec.ID,
		"session_id", in.SessionID)
	if err := workflow.SetQueryHandler(ctx, RetentionQuery, func() (RetentionState, error) {
		return st, nil
	}); err != nil {
		return st, fmt.Errorf("register query: %w", err)
	}
	upsert := func(u ...temporal.SearchAttributeUpdate) {
		if err := workflow.UpsertTypedSearchAttributes(ctx, u...); err != nil {
			logger.Warn("search attribute not updated", "error", err)
		}
	}
	upsert(RetentionDeleteAtAttr.ValueSet(st.DeleteAt), LegalHoldAttr.ValueSet(false))
	logger.Info("recording retention started", "delete_at", st.DeleteAt)

	holds := workflow.GetSignalChannel(ctx, LegalHoldSignal)
	for {
		var h LegalHold
		for holds.ReceiveAsync(&h) {
			if h.Hold != st.LegalHold {
				st.LegalHold = h.Hold
				st.Holds = append(st.Holds, HoldChange{Hold: h.Hold, At: workflow.Now(ctx)})
				st.Status = RetentionPending
				if h.Hold {
					st.Status = RetentionHeld
				}
				upsert(LegalHoldAttr.ValueSet(h.Hold))
				logger.Info("legal hold changed", "legal_hold", h.Hold)
			}
			h = LegalHold{}
		}
		now := workflow.Now(ctx)
		if !st.LegalHold && !now.Before(st.DeleteAt) {
			break
		}
		signalled := func() bool { return holds.Len() > 0 }
		if st.LegalHold {
			// No timer while held: a hold can last for years.
			if err := workflow.Await(ctx, signalled); err != nil {
				return st, err
			}
			continue
		}
		if _, err := workflow.AwaitWithTimeout(ctx, st.DeleteAt.Sub(now),
			signalled); err != nil {
			return st, err
		}
	}

	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, deleteOptions),
		a.DeleteRecording, activities.RecordingRef{
			RecordingID: rec.ID, SessionID: in.SessionID, MeetingUUID: rec.MeetingUUID,
		}).Get(ctx, nil)
	if err != nil {
		st.Status, st.Error = RetentionFailed, failureText(err)
		logger.Error("recording not deleted", "error", st.Error)
		return st, err
	}
	now := workflow.Now(ctx)
	st.Status, st.DeletedAt = RetentionDeleted, &now
	upsert(RetentionDeleteAtAttr.ValueUnset())
	logger.Info("recording deleted", "platform", st.Platform, "meeting_id", st.MeetingID,
		"deleted_at", now)
	if workflow.GetVersion(ctx, retentionAuditChange, workflow.DefaultVersion, 1) == 1 {
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, auditOptions),
			a.AuditRecordingDeletion, activities.RecordingDeletion{
				RecordingID: rec.ID, SessionID: in.SessionID, DeletedAt: now,
			}).Get(ctx, nil)
		if err != nil {
			// The recording is gone either way: the result still records it.
			st.AuditError = failureText(err)
			logger.Error("recording deletion not audited", "error", st.AuditError)
		}
	}
	return st, nil
}
