package workflows_test

import (
	"context"
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

// TestBusyVendorOnTheQuickTryGetsTheActivity: the patient's email fails its quick try
// in a way worth retrying and is sent by its activity, once; the SMS, refused for
// good on its quick try, is not tried again, and staff hear of it.
func TestBusyVendorOnTheQuickTryGetsTheActivity(t *testing.T) {
	emails, texts := 0, 0
	env, notices := invitesEnv(
		func(context.Context, activities.Invite) error {
			emails++
			if emails == 1 {
				return temporal.NewApplicationError("email: status 503",
					activities.ErrTypeDeliveryBusy)
			}
			return nil
		},
		func(context.Context, activities.Invite) error {
			texts++
			return temporal.NewNonRetryableApplicationError("sms: code 21614",
				activities.ErrTypeDeliveryRejected, nil)
		})
	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, 2, emails, "the quick try, then its activity")
	assert.Equal(t, workflows.DeliverySent, s.Deliveries.PatientEmail.Status)
	assert.Equal(t, 1, texts, "a refusal is not tried again")
	assert.Equal(t, workflows.DeliveryFailed, s.Deliveries.PatientSMS.Status)
	assert.Contains(t, *notices, "Telehealth patient SMS failed")
}
