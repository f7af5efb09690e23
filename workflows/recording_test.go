package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/workflows"
)

// fakeStarter is a RetentionStarter that refuses its first calls, as an unreachable
// Temporal would, then starts each workflow id once, as REJECT_DUPLICATE does.
type fakeStarter struct {
	mu       sync.Mutex
	failures int
	attempts []time.Time
	started  map[string]workflows.RetentionInput
	order    []string
}

func (f *fakeStarter) start(env *testsuite.TestWorkflowEnvironment,
	s activities.RetentionStart) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, env.Now().UTC())
	if f.failures > 0 {
		f.failures--
		return errors.New("frontend unavailable")
	}
	if _, ok := f.started[s.WorkflowID]; ok {
		return nil
	}
	var in workflows.RetentionInput
	if err := json.Unmarshal(s.Input, &in); err != nil {
		return err
	}
	f.started[s.WorkflowID] = in
	f.order = append(f.order, s.WorkflowID)
	return nil
}

func mockStarter(env *testsuite.TestWorkflowEnvironment, failures int) *fakeStarter {
	f := &fakeStarter{failures: failures, started: map[string]workflows.RetentionInput{}}
	env.OnActivity(acts.StartRetention, mock.Anything, mock.Anything).Return(
		func(_ context.Context, s activities.RetentionStart) error {
			return f.start(env, s)
		})
	return f
}

func completedRecording(uuid string, after time.Duration) (workflows.VisitEvent,
	workflows.Recording) {
	rec := workflows.Recording{
		ID:          workflows.RecordingID("zoom", uuid),
		Platform:    "zoom",
		MeetingID:   meeting.ID,
		MeetingUUID: uuid,
		CompletedAt: at(after),
		Files: []workflows.RecordingFile{{ID: "f-" + uuid, FileType: "MP4", Size: 10,
			DownloadURL: "https://zoom.us/rec/download/d-" + uuid}},
	}
	done := ev(workflows.EventRecordingComplete, after, "")
	done.Key += "-" + uuid
	done.Recording = &rec
	return done, rec
}

func TestRecordingCompletedStartsItsRetention(t *testing.T) {
	env, _ := newEnv()
	starter := mockStarter(env, 0)

	done, rec := completedRecording("instance-A", 40*time.Minute)
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
	wid := workflows.RetentionWorkflowID(rec.ID)
	require.Equal(t, []string{wid}, starter.order, "one retention per recording")
	assert.Len(t, starter.attempts, 1, "the repeat is not started again")
	got := starter.started[wid]
	assert.Equal(t, 90*24*time.Hour, got.Retain)
	assert.Equal(t, s.SessionID, got.SessionID)
	assert.Equal(t, rec, got.Recording)
}

func TestRetentionStartIsRetried(t *testing.T) {
	env, _ := newEnv()
	starter := mockStarter(env, 3)

	first, recA := completedRecording("instance-A", 40*time.Minute)
	second, recB := completedRecording("instance-B", 45*time.Minute)
	steps := append(normalVisit(), step{delivered: 41 * time.Minute, event: first},
		step{delivered: 46 * time.Minute, event: second})
	playVisit(env, steps)

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, workflows.StatusCompleted, s.Status)
	require.Len(t, s.Recordings, 2)
	assert.Equal(t, []string{workflows.RetentionWorkflowID(recA.ID),
		workflows.RetentionWorkflowID(recB.ID)}, starter.order,
		"both started, each once")
	require.Len(t, starter.attempts, 5, "three refusals, then two starts")
	// Backing off: 1 s, 2 s, 4 s between the first recording's attempts.
	gaps := []time.Duration{}
	for i := 1; i < 4; i++ {
		gaps = append(gaps, starter.attempts[i].Sub(starter.attempts[i-1]))
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, gaps)
}

func TestRetentionStartWithoutAStarterLeavesTheSessionWhole(t *testing.T) {
	env, _ := newEnv() // the real activity, with no RetentionStarter: NotConfigured
	done, _ := completedRecording("instance-A", 40*time.Minute)
	playVisit(env, append(normalVisit(), step{delivered: 41 * time.Minute, event: done}))

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, workflows.StatusCompleted, s.Status, "the session is not failed")
	assert.Len(t, s.Recordings, 1, "the recording is kept in the state")
}
