package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/workflows"
)

func TestRecordingCompletedStartsItsRetention(t *testing.T) {
	env, _ := newEnv()
	env.RegisterWorkflowWithOptions(workflows.RecordingRetention,
		workflow.RegisterOptions{Name: workflows.RecordingRetentionWorkflow})
	var started []string
	var inputs []workflows.RetentionInput
	env.OnWorkflow(workflows.RecordingRetentionWorkflow, mock.Anything, mock.Anything).
		Return(func(_ workflow.Context, in workflows.RetentionInput) (
			workflows.RetentionState, error) {
			inputs = append(inputs, in)
			return workflows.RetentionState{Status: workflows.RetentionPending}, nil
		})
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context,
		_ converter.EncodedValues) {
		started = append(started, info.WorkflowExecution.ID)
	})

	rec := workflows.Recording{
		ID:          workflows.RecordingID("zoom", "instance-A"),
		Platform:    "zoom",
		MeetingID:   meeting.ID,
		MeetingUUID: "instance-A",
		CompletedAt: at(40 * time.Minute),
		Files: []workflows.RecordingFile{{ID: "f1", FileType: "MP4", Size: 10,
			DownloadURL: "https://zoom.us/rec/download/d1"}},
	}
	done := ev(workflows.EventRecordingComplete, 40*time.Minute, "")
	done.Recording = &rec
	// Zoom sends it again with another timestamp: a second event, the same recording.
	again := done
	again.Key += "-again"
	steps := append(normalVisit(), step{delivered: 41 * time.Minute, event: done},
		step{delivered: 42 * time.Minute, event: again})
	playVisit(env, steps)
	in := input()
	in.Policy.RecordingRetention = 90 * 24 * time.Hour

	env.ExecuteWorkflow(workflows.SessionLifecycle, in)

	s := result(t, env)
	assert.Equal(t, workflows.StatusCompleted, s.Status)
	require.Len(t, s.Recordings, 1)
	assert.Equal(t, rec.ID, s.Recordings[0].ID)
	assert.Equal(t, rec.Files, s.Recordings[0].Files)
	require.Equal(t, []string{workflows.RetentionWorkflowID(rec.ID)}, started,
		"one retention per recording")
	require.Len(t, inputs, 1)
	assert.Equal(t, 90*24*time.Hour, inputs[0].Retain)
	assert.Equal(t, s.SessionID, inputs[0].SessionID)
	assert.Equal(t, "instance-A", inputs[0].Recording.MeetingUUID)
}
