package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// visitChange names the live visit's change to SessionLifecycle in workflow.GetVersion.
// Version 1 is the live visit as first released; version 2 is its lean history (see
// leanVersion).
const visitChange = "live-visit"

// leanVersion of visitChange makes the same visit with fewer history events: the
// meeting is created by a local activity inside the first workflow task, whose search
// attributes go in one upsert; the first messages go by local activity in the next
// task; and the visit loop keeps one timer per deadline instead of one per pass.
const leanVersion = 2

// SessionLifecycle carries one booked session from its meeting's creation through the
// live visit to billing and follow-up. Sessions started before the live visit existed
// replay through the first release's code, unchanged.
func SessionLifecycle(ctx workflow.Context, in SessionInput) (State, error) {
	version := workflow.GetVersion(ctx, visitChange, workflow.DefaultVersion, leanVersion)
	if version == workflow.DefaultVersion {
		return legacyLifecycle(ctx, in)
	}
	return visitLifecycle(ctx, in, version >= leanVersion)
}
