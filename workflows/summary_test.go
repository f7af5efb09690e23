package workflows_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/workflows"
)

const notes = "Follow-up on knee pain.\nAsk about the new medication."

// summaryAfter runs the session to its end and queries its summary.
func summaryAfter(t *testing.T, env *testsuite.TestWorkflowEnvironment) (
	workflows.Summary, workflows.State) {
	t.Helper()
	in := input()
	in.Booking.ProviderNotes = notes
	env.ExecuteWorkflow(workflows.SessionLifecycle, in)
	s := result(t, env)

	v, err := env.QueryWorkflow(workflows.SummaryQuery)
	require.NoError(t, err)
	var sum workflows.Summary
	require.NoError(t, v.Get(&sum))

	// The notes are in the summary, never in the state that GET /sessions shows.
	raw, err := json.Marshal(s)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "knee")
	return sum, s
}

func TestSummaryAfterNormalVisit(t *testing.T) {
	env, _ := newEnv()
	playVisit(env, normalVisit())

	sum, s := summaryAfter(t, env)

	assert.Equal(t, workflows.BuildSummary(s, notes), sum, "the query is BuildSummary")
	assert.Equal(t, workflows.StatusCompleted, sum.Status)
	assert.True(t, sum.Final)
	assert.Equal(t, at(-2*time.Minute), *sum.ActualStart)
	assert.Equal(t, at(30*time.Minute), *sum.ActualEnd)
	assert.Equal(t, 32, sum.ActualMinutes)
	assert.Equal(t, 180, sum.WaitSeconds)
	require.Len(t, sum.Waits, 1)
	assert.Equal(t, 25, sum.BillableMinutes)
	assert.False(t, sum.NoShow)
	assert.Nil(t, sum.Cancellation)

	require.Len(t, sum.Attendance, 3)
	prov, pat, other := sum.Attendance[0], sum.Attendance[1], sum.Attendance[2]
	assert.Equal(t, workflows.RoleProvider, prov.Role)
	assert.Equal(t, 32*60, prov.Seconds)
	assert.Equal(t, workflows.RolePatient, pat.Role)
	require.Len(t, pat.Intervals, 1)
	assert.Equal(t, at(2*time.Minute), pat.Intervals[0].From)
	assert.Equal(t, 25*60, pat.Intervals[0].Seconds)
	assert.False(t, other.Present)
	assert.Empty(t, other.Intervals)

	byName := map[string]workflows.DeliveryStatus{}
	for _, d := range sum.Deliveries {
		byName[d.Name] = d.Status
	}
	assert.Equal(t, workflows.DeliverySent, byName["billing"])
	assert.Equal(t, workflows.DeliverySent, byName["followUp"])
	assert.Equal(t, workflows.DeliverySent, byName["patientEmail"])

	assert.Equal(t, notes, sum.SOAP.Subjective, "pre-session notes carried over")
	assert.Contains(t, sum.SOAP.Objective, "Patient present 25 min.")
	assert.Contains(t, sum.SOAP.Objective, "Billable 25 min.")
	assert.Empty(t, sum.SOAP.Assessment)
	assert.Empty(t, sum.SOAP.Plan)
	assert.Equal(t, "S*** J***", sum.PatientMasked)
}

func TestSummaryAfterNoShow(t *testing.T) {
	env, _ := newEnv()

	sum, _ := summaryAfter(t, env)

	assert.Equal(t, workflows.StatusNoShow, sum.Status)
	assert.True(t, sum.NoShow)
	assert.True(t, sum.Final)
	assert.Nil(t, sum.ActualStart)
	assert.Zero(t, sum.BillableMinutes)
	assert.False(t, sum.Attendance[1].Present)
	assert.Contains(t, sum.SOAP.Objective, "did not attend")
	assert.Equal(t, notes, sum.SOAP.Subjective)
	// No no-show fee: nothing was billed, and the summary says so.
	for _, d := range sum.Deliveries {
		if d.Name == "billing" || d.Name == "followUp" {
			assert.Equal(t, workflows.DeliverySkipped, d.Status, d.Name)
		}
	}
	assert.Contains(t, sum.Text(), "billing:       skipped")
}

func TestSummaryAfterCancel(t *testing.T) {
	env, _ := newEnv()
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.CancelUpdate, "cancel-1",
			&testsuite.TestUpdateCallback{
				OnReject:   func(err error) { t.Errorf("rejected: %v", err) },
				OnAccept:   func() {},
				OnComplete: func(any, error) {},
			}, workflows.CancelRequest{Reason: workflows.CancelByPatient})
	}, 30*time.Minute)

	sum, _ := summaryAfter(t, env)

	assert.Equal(t, workflows.StatusCancelled, sum.Status)
	require.NotNil(t, sum.Cancellation)
	assert.Equal(t, workflows.CancelByPatient, sum.Cancellation.Reason)
	assert.Equal(t, start0.Add(30*time.Minute), sum.Cancellation.At)
	assert.False(t, sum.NoShow)
	assert.Contains(t, sum.SOAP.Objective, "Cancelled (patient)")
	for _, d := range sum.Deliveries {
		if d.Name == "billing" || d.Name == "followUp" {
			assert.Equal(t, workflows.DeliverySkipped, d.Status, d.Name)
		}
	}
}

func TestSummaryOfLiveVisitCountsOpenIntervals(t *testing.T) {
	from := start0
	left := start0.Add(10 * time.Minute)
	s := workflows.State{
		SessionID: "SESSION-1", Status: workflows.StatusInProgress,
		UpdatedAt: start0.Add(20 * time.Minute),
		Attendance: workflows.Attendance{
			ActualStart: &from,
			Provider:    []workflows.Interval{{From: from}},
			// Two devices at once count once.
			Patient: []workflows.Interval{{From: from, To: &left},
				{From: from.Add(5 * time.Minute), To: &left}},
		},
	}

	sum := workflows.BuildSummary(s, "")

	assert.False(t, sum.Final)
	assert.Zero(t, sum.ActualMinutes, "no end yet")
	assert.True(t, sum.Attendance[0].Open)
	assert.Equal(t, 20*60, sum.Attendance[0].Seconds, "open until the state's time")
	assert.Equal(t, 10*60, sum.Attendance[1].Seconds)
	assert.Equal(t, []workflows.DeliveryEntry{}, sum.Deliveries)

	text := sum.Text()
	assert.Contains(t, text, "Session summary SESSION-1")
	assert.Contains(t, text, "Status:          IN_PROGRESS")
	assert.Contains(t, text, "provider: 1200 s")
	assert.Contains(t, text, "SOAP note\n  S: \n")
}

func TestSummaryTextCarriesEveryPart(t *testing.T) {
	env, _ := newEnv()
	playVisit(env, normalVisit())
	sum, _ := summaryAfter(t, env)

	text := sum.Text()

	for _, want := range []string{
		"Status:          COMPLETED",
		"Patient:         S*** J***",
		"Billable:        25 min (1500 s)",
		"Waiting room:    180 s over 1 stay(s)",
		"  billing:       sent",
		"  S: Follow-up on knee pain.\n     Ask about the new medication.",
		"  O: Telehealth video visit.",
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "Sarah")
}

func TestSummaryKeepsNotesAcrossContinueAsNew(t *testing.T) {
	env, _ := newEnv()
	in := input()
	in.Booking.ProviderNotes = notes
	playVisit(env, now(
		ev(workflows.EventMeetingStarted, 0, ""),
		ev(workflows.EventJoined, 0, "host"),
		ev(workflows.EventJoined, 0, "patient"),
	))
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.VisitEventSignal,
			ev(workflows.EventJoined, time.Minute, "interpreter"))
		env.SetContinueAsNewSuggested(true)
	}, begins+time.Minute)
	env.ExecuteWorkflow(workflows.SessionLifecycle, in)

	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	var next workflows.SessionInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Carried)

	env2, _ := newEnv()
	env2.SetStartTime(start0.Add(begins + 2*time.Minute))
	env2.RegisterDelayedCallback(func() {
		for _, e := range []workflows.VisitEvent{
			ev(workflows.EventLeft, 25*time.Minute, "patient"),
			ev(workflows.EventMeetingEnded, 26*time.Minute, ""),
		} {
			env2.SignalWorkflow(workflows.VisitEventSignal, e)
		}
	}, 25*time.Minute)
	env2.ExecuteWorkflow(workflows.SessionLifecycle, next)
	require.NoError(t, env2.GetWorkflowError())

	v, err := env2.QueryWorkflow(workflows.SummaryQuery)
	require.NoError(t, err)
	var sum workflows.Summary
	require.NoError(t, v.Get(&sum))
	assert.Equal(t, notes, sum.SOAP.Subjective, "the second run still has the notes")
	assert.Equal(t, 25, sum.BillableMinutes)
	assert.True(t, sum.Attendance[2].Present, "the interpreter, from the first run")
}

func TestSummaryNamesTheRecordingsWithoutTheirURLs(t *testing.T) {
	env, _ := newEnv()
	mockStarter(env, 0)
	done, rec := completedRecording("instance-A", 40*time.Minute)
	playVisit(env, append(normalVisit(), step{delivered: 41 * time.Minute, event: done}))

	sum, s := summaryAfter(t, env)

	require.Len(t, s.Recordings, 1)
	assert.Equal(t, "completed", sum.Recording)
	assert.Equal(t, []workflows.SummaryRecording{{
		ID: rec.ID, Platform: "zoom", CompletedAt: rec.CompletedAt,
		RetentionID: workflows.RetentionWorkflowID(rec.ID),
		Files: []workflows.SummaryRecordingFile{{ID: "f-instance-A", FileType: "MP4",
			Size: 10}},
	}}, sum.Recordings)
	raw, err := json.Marshal(sum)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "rec/download", "no download reference")
	assert.NotContains(t, string(raw), "meetingUuid", "no meeting uuid")
	assert.Contains(t, sum.Text(), "  "+rec.ID+": zoom, 1 file(s), completed ")
}
