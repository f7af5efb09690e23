package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/workflows"
)

// TestMeetingTryHandsOverToTheRetriedActivity: the quick try inside the first task
// fails in a way worth retrying; the retried activity, told that the try may have
// made the meeting, makes it, and the visit goes on as usual.
func TestMeetingTryHandsOverToTheRetriedActivity(t *testing.T) {
	var tries []activities.CreateMeetingInput
	env, c := newEnvMeeting(func(in activities.CreateMeetingInput) (video.Meeting, error) {
		tries = append(tries, in)
		if len(tries) == 1 {
			return video.Meeting{}, temporal.NewApplicationError(
				"video platform: create meeting: status 503", "PlatformBusy")
		}
		return meeting, nil
	})
	playVisit(env, normalVisit())
	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	require.Len(t, tries, 2)
	assert.False(t, tries[0].MayExist, "a first try looks for nothing")
	assert.True(t, tries[1].MayExist, "the activity looks for the try's meeting first")
	assert.Equal(t, meeting.ID, s.MeetingID)
	assert.Equal(t, workflows.StatusCompleted, s.Status)
	assert.Equal(t, 1, len(c.args["TriggerBilling"]))
}
