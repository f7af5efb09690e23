package sink_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/sink"
)

// TestOutboxWritesARetriedActivityOnce: the first attempt writes its line and then
// fails, as a worker killed before reporting would; the retry must not write again.
func TestOutboxWritesARetriedActivityOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	outbox := sink.NewOutbox(path)
	send := func(ctx context.Context) error {
		err := outbox.SendEmail(ctx, activities.Email{SessionID: "S-1", To: "a@b.co",
			Subject: "s", Text: "t"})
		if err == nil && activity.GetInfo(ctx).Attempt == 1 {
			return errors.New("worker lost before reporting")
		}
		return err
	}
	wf := func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute,
			RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		})
		if err := workflow.ExecuteActivity(ctx, "send").Get(ctx, nil); err != nil {
			return err
		}
		// A second side effect of the same session and channel is not a retry.
		return workflow.ExecuteActivity(ctx, "send").Get(ctx, nil)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: "wf"})
	env.RegisterActivityWithOptions(send, activity.RegisterOptions{Name: "send"})

	env.ExecuteWorkflow("wf")

	require.NoError(t, env.GetWorkflowError())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(b), `"session_id":"S-1"`),
		"two activities, each written once across its attempts:\n%s", b)

}

func TestSessionLogWritesASessionStatusOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.csv")
	row := activities.LogRow{SessionID: "SESSION-1", Status: "SCHEDULED"}
	require.NoError(t, sink.NewSessionLog(path).Record(context.Background(), row))
	require.NoError(t, sink.NewSessionLog(path).Record(context.Background(), row),
		"a restarted worker's retry")
	row.DurationMinutes = 45
	require.NoError(t, sink.NewSessionLog(path).Record(context.Background(), row),
		"a reschedule, still SCHEDULED")
	row.Status = "COMPLETED"
	require.NoError(t, sink.NewSessionLog(path).Record(context.Background(), row))

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(b), ",SCHEDULED\n"), string(b))
	assert.Equal(t, 1, strings.Count(string(b), ",COMPLETED\n"), string(b))
}
