package app_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/workflows"
)

// TestLeanHistory plays a visit on the dev server and reads its history: the caller's
// links come from the first workflow task, which makes the meeting by local activity
// and sets the search attributes once; the messages go by local activity; and the
// platform's events start no timers.
func TestLeanHistory(t *testing.T) {
	s := startVisitStack(t, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	bookingID := uniqueID("lean")
	start := time.Now().UTC().Add(time.Minute).Format(time.RFC3339)
	code, body := s.post(t, fmt.Sprintf(`{"booking_id":%q,
		"patient_email":"sarah.johnson@example.com","patient_name":"Sarah Johnson",
		"provider_email":"dr.smith@clinic.example","scheduled_time":%q,
		"duration_minutes":30}`, bookingID, start))
	require.Equal(t, http.StatusOK, code, body)
	sessionID := body["data"].(map[string]any)["session_id"].(string)
	meetings := s.sandbox.MeetingIDs()
	require.Len(t, meetings, 1)
	meetingID := meetings[0]

	ctx := t.Context()
	provider := &sandbox.Person{UserName: "Dr Smith", Email: "dr.smith@clinic.example"}
	patient := &sandbox.Person{UserName: "Sarah Johnson", Email: "sarah.johnson@example.com"}
	require.NoError(t, s.sandbox.Start(ctx, meetingID, provider))
	require.NoError(t, s.sandbox.Wait(ctx, meetingID, patient))
	require.NoError(t, s.sandbox.Admit(ctx, meetingID, patient))
	time.Sleep(time.Second)
	require.NoError(t, s.sandbox.Leave(ctx, meetingID, patient))
	require.NoError(t, s.sandbox.End(ctx, meetingID))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body := s.get(t, "/sessions/"+sessionID)
		require.Equal(c, http.StatusOK, code)
		assert.Equal(c, "COMPLETED", body["data"].(map[string]any)["status"])
	}, 30*time.Second, 250*time.Millisecond)

	events := history(t, workflows.WorkflowID(bookingID))
	count := func(events []*historypb.HistoryEvent, ty enumspb.EventType) int {
		n := 0
		for _, e := range events {
			if e.EventType == ty {
				n++
			}
		}
		return n
	}

	// Up to the answer to the caller: one workflow task, no activity, one upsert.
	answered := -1
	for i, e := range events {
		if e.EventType == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED {
			answered = i
			break
		}
	}
	require.Positive(t, answered, "the create update completed")
	first := events[:answered]
	assert.Equal(t, 1, count(first, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED))
	upserts := 0
	for _, e := range first {
		attrs := e.GetUpsertWorkflowSearchAttributesEventAttributes()
		for name := range attrs.GetSearchAttributes().GetIndexedFields() {
			if name != "TemporalChangeVersion" {
				upserts++
				break
			}
		}
	}
	// (The SDK's own TemporalChangeVersion upsert comes with the version marker.)
	assert.Equal(t, 1, upserts, "the session's search attributes at once")
	for _, e := range first {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			assert.NotEqual(t, "CreateMeeting", a.GetActivityType().GetName())
		}
	}
	markers := 0
	for _, e := range first {
		if e.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
			markers++
		}
	}
	assert.Equal(t, 1, markers, "the meeting's local activity")

	// The messages went by local activity, in the task after the answer.
	for _, e := range events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			assert.NotContains(t, []string{"SendInviteEmail", "SendInviteSMS",
				"SendProviderEmail"}, a.GetActivityType().GetName())
		}
	}

	// One version marker, the lean version's own: it takes the changes before it.
	versions := 0
	for _, e := range events {
		if e.GetMarkerRecordedEventAttributes().GetMarkerName() == "Version" {
			versions++
		}
	}
	assert.Equal(t, 1, versions, "version markers")

	// The visit's events start no timers: those of the deadlines are kept.
	signals := count(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
	timers := count(events, enumspb.EVENT_TYPE_TIMER_STARTED)
	cancelled := count(events, enumspb.EVENT_TYPE_TIMER_CANCELED)
	require.GreaterOrEqual(t, signals, 5, "start, wait, admit, leave and end")
	assert.Less(t, timers, signals, "timers started: %d for %d signals", timers, signals)
	assert.Less(t, cancelled, signals/2, "timers cancelled: %d", cancelled)
}

// history reads a workflow's latest run's history.
func history(t *testing.T, workflowID string) []*historypb.HistoryEvent {
	t.Helper()
	iter := temporalClient.GetWorkflowHistory(t.Context(), workflowID, "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []*historypb.HistoryEvent
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}
