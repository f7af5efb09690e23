package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/audit"
	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/workflows"
)

const recordedUUID = "/rec0rd//Instance=="

// retentionEnv runs RecordingRetention with the real activity and the real Zoom
// client against the sandbox, without an audit log; deletes lists when each delete
// call was made.
func retentionEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *sandbox.Server,
	*[]time.Time) {
	t.Helper()
	return auditedRetentionEnv(t, nil)
}

// auditedRetentionEnv is retentionEnv with the deletions appended to auditLog.
func auditedRetentionEnv(t *testing.T, auditLog activities.Auditor) (
	*testsuite.TestWorkflowEnvironment, *sandbox.Server, *[]time.Time) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{AccountID: "a", ClientID: "c",
		ClientSecret: "s"})
	require.NoError(t, err)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	zoom := video.NewZoom(video.ZoomConfig{APIURL: srv.URL + "/v2",
		OAuthURL: srv.URL + "/oauth/token", AccountID: "a", ClientID: "c",
		ClientSecret: "s", UserID: "dr@clinic.example",
		Logger: slog.New(slog.DiscardHandler)})

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start0)
	env.RegisterWorkflowWithOptions(workflows.RecordingRetention,
		workflow.RegisterOptions{Name: workflows.RecordingRetentionWorkflow})
	env.RegisterActivity(&activities.Activities{Video: zoom, Audit: auditLog})
	var deletes []time.Time
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context,
		_ converter.EncodedValues) {
		if info.ActivityType.Name == "DeleteRecording" {
			deletes = append(deletes, env.Now().UTC())
		}
	})
	return env, sb, &deletes
}

func retentionInput(retain time.Duration) workflows.RetentionInput {
	return workflows.RetentionInput{
		Recording: workflows.Recording{
			ID:          workflows.RecordingID("zoom", recordedUUID),
			Platform:    "zoom",
			MeetingID:   "81234567890",
			MeetingUUID: recordedUUID,
			CompletedAt: start0,
		},
		SessionID: "SESSION-1",
		Retain:    retain,
	}
}

func retention(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.RetentionState {
	t.Helper()
	v, err := env.QueryWorkflow(workflows.RetentionQuery)
	require.NoError(t, err)
	var s workflows.RetentionState
	require.NoError(t, v.Get(&s))
	return s
}

func TestRetentionDeletesAtExactlyTheConfiguredAge(t *testing.T) {
	const age = 2555 * 24 * time.Hour // RECORDING_RETENTION_DAYS' default
	env, sb, deletes := retentionEnv(t)
	sb.AddRecording(recordedUUID)
	var before workflows.RetentionState
	var existed bool
	env.RegisterDelayedCallback(func() {
		before = retention(t, env)
		existed, _ = sb.Recording(recordedUUID)
	}, age-time.Second)

	env.ExecuteWorkflow(workflows.RecordingRetentionWorkflow, retentionInput(0))

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, workflows.RetentionPending, before.Status, "a second before")
	assert.True(t, start0.Add(age).Equal(before.DeleteAt))
	assert.True(t, existed, "the recording was there a second before")
	require.Equal(t, []time.Time{start0.Add(age)}, *deletes, "deleted once, at the age")

	var s workflows.RetentionState
	require.NoError(t, env.GetWorkflowResult(&s))
	assert.Equal(t, workflows.RetentionDeleted, s.Status)
	require.NotNil(t, s.DeletedAt)
	assert.True(t, start0.Add(age).Equal(*s.DeletedAt))
	exists, how := sb.Recording(recordedUUID)
	assert.False(t, exists)
	assert.Equal(t, "delete", how, "deleted for good, not moved to the trash")
}

func TestLegalHoldPreventsDeletion(t *testing.T) {
	const age = 30 * 24 * time.Hour
	env, sb, deletes := retentionEnv(t)
	sb.AddRecording(recordedUUID)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.LegalHoldSignal, workflows.LegalHold{Hold: true})
	}, 10*24*time.Hour)
	var held workflows.RetentionState
	var existed bool
	env.RegisterDelayedCallback(func() {
		held = retention(t, env)
		existed, _ = sb.Recording(recordedUUID)
	}, 10*age)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.LegalHoldSignal, workflows.LegalHold{Hold: false})
	}, 11*age)

	env.ExecuteWorkflow(workflows.RecordingRetentionWorkflow, retentionInput(age))

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, workflows.RetentionHeld, held.Status, "held long past its age")
	assert.True(t, held.LegalHold)
	assert.True(t, existed, "nothing deleted under the hold")
	require.Equal(t, []time.Time{start0.Add(11 * age)}, *deletes,
		"deleted only once the hold was released")

	var s workflows.RetentionState
	require.NoError(t, env.GetWorkflowResult(&s))
	assert.Equal(t, workflows.RetentionDeleted, s.Status)
	require.Len(t, s.Holds, 2)
	assert.True(t, s.Holds[0].Hold)
	assert.True(t, s.Holds[0].At.Equal(start0.Add(10*24*time.Hour)))
	assert.False(t, s.Holds[1].Hold)
	assert.True(t, s.Holds[1].At.Equal(start0.Add(11*age)))
}

func TestRetentionTakesPlatform404AsDeleted(t *testing.T) {
	env, _, deletes := retentionEnv(t) // the sandbox has no such recording: 404, 3301
	env.ExecuteWorkflow(workflows.RecordingRetentionWorkflow, retentionInput(time.Hour))

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var s workflows.RetentionState
	require.NoError(t, env.GetWorkflowResult(&s))
	assert.Equal(t, workflows.RetentionDeleted, s.Status)
	assert.Len(t, *deletes, 1, "not retried")
}

func TestRetentionRetriesABusyPlatformAndStopsAtARefusal(t *testing.T) {
	env, sb, deletes := retentionEnv(t)
	sb.AddRecording(recordedUUID)
	sb.InjectNext(sandbox.DeleteRecordings, 2, sandbox.Fault{Status: 503})
	env.ExecuteWorkflow(workflows.RecordingRetentionWorkflow, retentionInput(time.Hour))
	require.NoError(t, env.GetWorkflowError())
	assert.Len(t, *deletes, 3, "two 503s, then the delete")
	exists, _ := sb.Recording(recordedUUID)
	assert.False(t, exists)

	env, sb, deletes = retentionEnv(t)
	sb.AddRecording(recordedUUID)
	sb.InjectNext(sandbox.DeleteRecordings, 1, sandbox.Fault{Status: 403, Code: 200})
	env.ExecuteWorkflow(workflows.RecordingRetentionWorkflow, retentionInput(time.Hour))
	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError(), "a refusal is a visible failure")
	assert.Contains(t, env.GetWorkflowError().Error(), "status 403")
	assert.Len(t, *deletes, 1, "a refusal is not retried")
	exists, _ = sb.Recording(recordedUUID)
	assert.True(t, exists)
}

func TestRetentionWorkflowIDHoldsNoPHI(t *testing.T) {
	id := workflows.RetentionWorkflowID(workflows.RecordingID("zoom", recordedUUID))
	assert.Regexp(t, `^retention-rec-[0-9a-f]{24}$`, id)
	assert.NotEqual(t, id,
		workflows.RetentionWorkflowID(workflows.RecordingID("zoom", "other==")))
}

func TestRetentionAppendsTheDeletionToTheAuditLog(t *testing.T) {
	auditLog, err := audit.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = auditLog.Close() })
	env, sb, _ := auditedRetentionEnv(t, auditLog)
	sb.AddRecording(recordedUUID)

	in := retentionInput(time.Hour)
	env.ExecuteWorkflow(workflows.RecordingRetentionWorkflow, in)

	require.NoError(t, env.GetWorkflowError())
	var s workflows.RetentionState
	require.NoError(t, env.GetWorkflowResult(&s))
	assert.Equal(t, workflows.RetentionDeleted, s.Status)
	assert.Empty(t, s.AuditError)
	var entries []audit.Entry
	require.NoError(t, auditLog.Each(t.Context(), func(e audit.Entry) error {
		entries = append(entries, e)
		return nil
	}))
	require.Len(t, entries, 1, "one deletion, one entry")
	e := entries[0]
	assert.Equal(t, activities.AuditActorRetention, e.Actor)
	assert.Equal(t, activities.AuditActionDeleteRecording, e.Action)
	assert.Equal(t, "SESSION-1", e.SessionID)
	assert.Equal(t, "deleted "+in.Recording.ID, e.Outcome)
	assert.True(t, start0.Add(time.Hour).Equal(e.Time), "at the deletion, got %s", e.Time)
	assert.NotContains(t, fmt.Sprint(e), recordedUUID, "ids only")
	n, err := auditLog.Verify(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// flakyAuditor refuses its first appends, as a database that is down would; with
// lostAck, the first append goes through but its answer is lost.
type flakyAuditor struct {
	refusals int
	lostAck  bool
	calls    int
	once     int // calls to AppendOnce
	appended []audit.Entry
}

func (f *flakyAuditor) Append(_ context.Context, e audit.Entry) (audit.Entry, error) {
	f.calls++
	if f.calls <= f.refusals {
		return audit.Entry{}, errors.New("database is locked")
	}
	f.appended = append(f.appended, e)
	if f.lostAck && f.calls == 1 {
		return audit.Entry{}, errors.New("connection reset")
	}
	return e, nil
}

func (f *flakyAuditor) AppendOnce(ctx context.Context, e audit.Entry) (audit.Entry,
	error) {
	f.once++
	for _, a := range f.appended {
		if a.SessionID == e.SessionID && a.Action == e.Action && a.Outcome == e.Outcome {
			f.calls++
			return a, nil
		}
	}
	return f.Append(ctx, e)
}

func TestRetentionRetriesTheAuditAppendAndKeepsAFailureInItsResult(t *testing.T) {
	flaky := &flakyAuditor{refusals: 3}
	env, sb, _ := auditedRetentionEnv(t, flaky)
	sb.AddRecording(recordedUUID)
	env.ExecuteWorkflow(workflows.RecordingRetentionWorkflow, retentionInput(time.Hour))
	require.NoError(t, env.GetWorkflowError())
	var s workflows.RetentionState
	require.NoError(t, env.GetWorkflowResult(&s))
	assert.Empty(t, s.AuditError)
	assert.Equal(t, 4, flaky.calls, "three refusals, then the append")
	assert.Len(t, flaky.appended, 1)

	// The first append went through, its answer did not: the retry finds it.
	lost := &flakyAuditor{lostAck: true}
	env, sb, _ = auditedRetentionEnv(t, lost)
	sb.AddRecording(recordedUUID)
	env.ExecuteWorkflow(workflows.RecordingRetentionWorkflow, retentionInput(time.Hour))
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, 2, lost.calls)
	assert.Equal(t, 1, lost.once, "the retry appends once")
	assert.Len(t, lost.appended, 1, "one entry")

	// A log that never takes it: the recording is gone all the same, and the result
	// says the entry is missing.
	down := &flakyAuditor{refusals: 1 << 30}
	env, sb, _ = auditedRetentionEnv(t, down)
	sb.AddRecording(recordedUUID)
	env.ExecuteWorkflow(workflows.RecordingRetentionWorkflow, retentionInput(time.Hour))
	require.NoError(t, env.GetWorkflowError())
	s = workflows.RetentionState{}
	require.NoError(t, env.GetWorkflowResult(&s))
	assert.Equal(t, workflows.RetentionDeleted, s.Status)
	assert.NotEmpty(t, s.AuditError)
	assert.Contains(t, s.AuditError, "database is locked")
	// (The test environment stops unlimited retries at ten attempts.)
	assert.Greater(t, down.calls, 1, "retried")
	exists, _ := sb.Recording(recordedUUID)
	assert.False(t, exists)
}

func TestRetentionFromBeforeTheAuditChangeAppendsNothing(t *testing.T) {
	auditLog := &flakyAuditor{}
	env, sb, _ := auditedRetentionEnv(t, auditLog)
	sb.AddRecording(recordedUUID)
	env.OnGetVersion("retention-audit", workflow.DefaultVersion, 1).
		Return(workflow.DefaultVersion)
	env.ExecuteWorkflow(workflows.RecordingRetentionWorkflow, retentionInput(time.Hour))
	require.NoError(t, env.GetWorkflowError())
	var s workflows.RetentionState
	require.NoError(t, env.GetWorkflowResult(&s))
	assert.Equal(t, workflows.RetentionDeleted, s.Status)
	assert.Zero(t, auditLog.calls, "a run recorded before the change replays without it")
}
