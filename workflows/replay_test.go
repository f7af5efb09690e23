package workflows_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/telehealth/sessions/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs of earlier
// versions. A change to the workflow that would break a running session fails here:
// such a change goes behind workflow.GetVersion. Record a new history with
// `temporal workflow show -w <id> --output json > workflows/testdata/<name>.json`.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories")

	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(workflows.SessionLifecycle)
			quiet := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(quiet, f))
		})
	}
}
