package workflows_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs of earlier
// versions. A change to the workflow that would break a running session fails here:
// such a change goes behind workflow.GetVersion. Record a new history from make run
// with `temporal workflow show -w <id> --output json --codec-endpoint
// http://127.0.0.1:8080/codec > workflows/testdata/<name>.json` (decoded: the
// replayer has no keys; test bookings only).
//
// visit_recording_retention_v2.json is a visit played through the sandbox with an EHR
// (a local FHIR server): recording.completed started the retention through
// StartRetention (retention-start-activity), and the visit went to the EHR
// (ehr-export). retention_pending.json is a recording's RecordingRetention, waiting;
// retention_deleted_audited.json one started by the CLI with a 5 s retention (the
// configuration allows a day at least), deleted and appended to the audit log
// (retention-audit). visit_no_show.json is a no-show billed with amount 0, from before
// no-show-fee; visit_no_show_v2.json one with no no-show fee (billing skipped) and
// visit_no_show_fee.json one billed a fee of 2500, both under no-show-fee.
// visit_completed_lean.json is a visit of the lean version (live-visit 2): its meeting
// and first messages made by local activities, a recording kept and its retention
// started; visit_no_show_lean.json a no-show of that version.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories")

	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(workflows.SessionLifecycle)
			r.RegisterWorkflowWithOptions(workflows.RecordingRetention,
				workflow.RegisterOptions{Name: workflows.RecordingRetentionWorkflow})
			quiet := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(quiet, f))
		})
	}
}
