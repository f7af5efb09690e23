package activities

import "context"

// RecordingRef names one platform recording: a meeting instance's cloud recording.
type RecordingRef struct {
	RecordingID string `json:"recordingId"`
	SessionID   string `json:"sessionId"`
	MeetingUUID string `json:"meetingUuid"`
}

// DeleteRecording deletes the recording for good; one already gone is no failure.
func (a *Activities) DeleteRecording(ctx context.Context, r RecordingRef) error {
	return classify(a.Video.DeleteRecording(ctx, r.MeetingUUID))
}
