package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// visitChange names the live visit's change to SessionLifecycle in workflow.GetVersion.
const visitChange = "live-visit"

// SessionLifecycle carries one booked session from its meeting's creation through the
// live visit to billing and follow-up. Sessions started before the live visit existed
// replay through the first release's code, unchanged.
func SessionLifecycle(ctx workflow.Context, in SessionInput) (State, error) {
	if workflow.GetVersion(ctx, visitChange, workflow.DefaultVersion, 1) ==
		workflow.DefaultVersion {
		return legacyLifecycle(ctx, in)
	}
	return visitLifecycle(ctx, in)
}
