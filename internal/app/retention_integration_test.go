package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/telehealth/sessions/workflows"
)

// TestRecordingRetentionOnTheDevServer: a signed recording.completed reaches the
// session, which starts the recording's retention on the worker app.NewWorker builds;
// GET /recordings/retention lists it through visibility, a legal hold shows there,
// and no download token or URL is in the histories unencrypted.
func TestRecordingRetentionOnTheDevServer(t *testing.T) {
	s := startVisitStack(t, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	start := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	bookingID := uniqueID("rec")
	code, body := s.post(t, fmt.Sprintf(`{"booking_id":%q,
		"patient_email":"sarah.johnson@example.com","patient_name":"Sarah Johnson",
		"scheduled_time":%q,"duration_minutes":30}`, bookingID, start))
	require.Equal(t, http.StatusOK, code, body)
	sessionID := body["data"].(map[string]any)["session_id"].(string)
	_, body = s.get(t, "/sessions/"+sessionID)
	meetingID := body["data"].(map[string]any)["meeting_id"].(string)
	number, err := strconv.ParseInt(meetingID, 10, 64)
	require.NoError(t, err)

	uuid := "/" + uniqueID("inst") + "//x=="
	completed := time.Now().UTC().Truncate(time.Second)
	event := map[string]any{
		"event": "recording.completed", "event_ts": completed.UnixMilli(),
		"download_token": "dt-secret-token",
		"payload": map[string]any{"account_id": "acct", "object": map[string]any{
			"id": number, "uuid": uuid, "host_id": "H",
			"topic": "Telehealth session " + sessionID,
			"recording_files": []map[string]any{{
				"id": "file-1", "file_type": "MP4", "file_size": 2048,
				"recording_type": "active_speaker",
				"download_url":   "https://zoom.example/rec/download/abc?access_token=qt-secret",
			}},
		}},
	}
	require.NoError(t, s.sandbox.Send(t.Context(), event))

	recID := workflows.RecordingID("zoom", uuid)
	pending := func() map[string]any {
		_, body := s.get(t, "/recordings/retention")
		list, _ := body["data"].(map[string]any)["recordings"].([]any)
		for _, r := range list {
			if r.(map[string]any)["recording_id"] == recID {
				return r.(map[string]any)
			}
		}
		return nil
	}
	var listed map[string]any
	// Listed once started; its deletion time once its first task has set it.
	require.Eventually(t, func() bool {
		listed = pending()
		return listed != nil && !strings.HasPrefix(listed["delete_at"].(string), "0001")
	}, 15*time.Second, 200*time.Millisecond, "retention not listed")
	deleteAt, err := time.Parse(time.RFC3339, listed["delete_at"].(string))
	require.NoError(t, err)
	assert.True(t, completed.AddDate(0, 0, 2555).Equal(deleteAt),
		"deleted 2555 days after completion, got %s", deleteAt)
	assert.Equal(t, false, listed["legal_hold"])

	ctx := context.Background()
	wfID := workflows.RetentionWorkflowID(recID)
	require.NoError(t, temporalClient.SignalWorkflow(ctx, wfID, "",
		workflows.LegalHoldSignal, workflows.LegalHold{Hold: true}))
	require.Eventually(t, func() bool {
		l := pending()
		return l != nil && l["legal_hold"] == true
	}, 15*time.Second, 200*time.Millisecond, "legal hold not listed")
	v, err := temporalClient.QueryWorkflow(ctx, wfID, "", workflows.RetentionQuery)
	require.NoError(t, err)
	var st workflows.RetentionState
	require.NoError(t, v.Get(&st))
	assert.Equal(t, workflows.RetentionHeld, st.Status)
	assert.Equal(t, sessionID, st.SessionID)

	// The session keeps the recording, its download reference without the token.
	_, body = s.get(t, "/sessions/"+sessionID)
	view := fmt.Sprint(body)
	assert.Contains(t, view, "https://zoom.example/rec/download/abc")
	assert.NotContains(t, view, "secret")

	// Unencrypted, the histories hold neither tokens nor the download URL.
	for _, id := range []string{wfID, workflows.WorkflowID(bookingID)} {
		iter := rawClient.GetWorkflowHistory(ctx, id, "", false,
			enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		events := 0
		for iter.HasNext() {
			events++
			e, err := iter.Next()
			require.NoError(t, err)
			raw := e.String()
			for _, leak := range []string{"secret", "zoom.example", uuid} {
				assert.False(t, strings.Contains(raw, leak), "%q in history", leak)
			}
		}
		assert.Positive(t, events, id)
	}
}

// TestLateRecordingStartsItsRetentionOnTheDevServer: a recording.completed that comes
// after its session has closed starts the recording's retention from the API, for
// that session; sent again, it finds the same retention.
func TestLateRecordingStartsItsRetentionOnTheDevServer(t *testing.T) {
	s := startVisitStack(t, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	start := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	bookingID := uniqueID("late")
	code, body := s.post(t, fmt.Sprintf(`{"booking_id":%q,
		"patient_email":"sarah.johnson@example.com","patient_name":"Sarah Johnson",
		"scheduled_time":%q,"duration_minutes":30}`, bookingID, start))
	require.Equal(t, http.StatusOK, code, body)
	sessionID := body["data"].(map[string]any)["session_id"].(string)
	_, body = s.get(t, "/sessions/"+sessionID)
	meetingID := body["data"].(map[string]any)["meeting_id"].(string)
	number, err := strconv.ParseInt(meetingID, 10, 64)
	require.NoError(t, err)

	// The session closes before the platform reports the recording.
	ctx := context.Background()
	require.NoError(t, temporalClient.TerminateWorkflow(ctx,
		workflows.WorkflowID(bookingID), "", "closed before its recording"))

	uuid := "/" + uniqueID("inst") + "//y=="
	completed := time.Now().UTC().Truncate(time.Second)
	event := map[string]any{
		"event": "recording.completed", "event_ts": completed.UnixMilli(),
		"download_token": "dt-secret-token",
		"payload": map[string]any{"account_id": "acct", "object": map[string]any{
			"id": number, "uuid": uuid, "host_id": "H",
			"topic": "Telehealth session " + sessionID,
			"recording_files": []map[string]any{{
				"id": "file-1", "file_type": "MP4", "file_size": 2048,
				"download_url": "https://zoom.example/rec/download/late?access_token=qt-secret",
			}},
		}},
	}
	require.NoError(t, s.sandbox.Send(t.Context(), event))

	wfID := workflows.RetentionWorkflowID(workflows.RecordingID("zoom", uuid))
	var st workflows.RetentionState
	require.Eventually(t, func() bool {
		v, err := temporalClient.QueryWorkflow(ctx, wfID, "", workflows.RetentionQuery)
		return err == nil && v.Get(&st) == nil
	}, 15*time.Second, 200*time.Millisecond, "retention not started")
	assert.Equal(t, workflows.RetentionPending, st.Status)
	assert.Equal(t, sessionID, st.SessionID)
	assert.True(t, completed.AddDate(0, 0, 2555).Equal(st.DeleteAt),
		"deleted 2555 days after completion, got %s", st.DeleteAt)
	first, err := temporalClient.DescribeWorkflowExecution(ctx, wfID, "")
	require.NoError(t, err)

	// Sent again, as Zoom does with another timestamp: the same retention.
	event["event_ts"] = completed.Add(time.Second).UnixMilli()
	require.NoError(t, s.sandbox.Send(t.Context(), event))
	again, err := temporalClient.DescribeWorkflowExecution(ctx, wfID, "")
	require.NoError(t, err)
	assert.Equal(t, first.WorkflowExecutionInfo.Execution.RunId,
		again.WorkflowExecutionInfo.Execution.RunId, "one retention per recording")

	// Unencrypted, its history holds neither tokens nor the download URL.
	iter := rawClient.GetWorkflowHistory(ctx, wfID, "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		for _, leak := range []string{"secret", "zoom.example", uuid} {
			assert.False(t, strings.Contains(e.String(), leak), "%q in history", leak)
		}
	}
}
