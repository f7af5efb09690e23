package analytics_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/analytics"
	"github.com/telehealth/sessions/internal/video"
	"github.com/telehealth/sessions/workflows"
)

var day0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) // a Tuesday

func at(h, m int) time.Time {
	return day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

func tp(t time.Time) *time.Time { return &t }

var secure = video.Security{EncryptionEnabled: true, WaitingRoomEnabled: true,
	RecordingEnabled: true, PasscodeSet: true}

// state is a session scheduled at start for 30 minutes with a meeting.
func state(id string, start time.Time, status workflows.Status) workflows.State {
	return workflows.State{
		SessionID: id, Status: status, ProviderID: "prov-a", PatientMasked: "S*** J***",
		ScheduledStart: start, ScheduledEnd: start.Add(30 * time.Minute),
		DurationMinutes: 30, MeetingID: "812", Security: secure, UpdatedAt: start,
	}
}

// visited is a session whose visit ran from start to start+minutes, the patient
// present for billable minutes of it.
func visited(id string, start time.Time, minutes, billable int) workflows.State {
	s := state(id, start, workflows.StatusCompleted)
	end := start.Add(time.Duration(minutes) * time.Minute)
	s.Attendance = workflows.Attendance{
		ActualStart: tp(start), ActualEnd: tp(end),
		Provider: []workflows.Interval{{From: start, To: tp(end)}},
		Patient: []workflows.Interval{{From: start,
			To: tp(start.Add(time.Duration(billable) * time.Minute))}},
		BillableSeconds: billable * 60, BillableMinutes: billable, PatientSeen: true,
		Recording: "completed",
	}
	s.UpdatedAt = end
	return s
}

// abandoned is a concluded session whose patient waited and left, never admitted.
func abandoned(id string, start time.Time) workflows.State {
	s := state(id, start, workflows.StatusCompleted)
	end := start.Add(20 * time.Minute)
	s.Attendance = workflows.Attendance{
		ActualStart: tp(start), ActualEnd: tp(end),
		Provider: []workflows.Interval{{From: start, To: tp(end)}},
		WaitingRoom: []workflows.Wait{{Entered: start.Add(-time.Minute),
			Left: tp(start.Add(4 * time.Minute))}},
		TotalWaitSeconds: 300, PatientSeen: true,
	}
	return s
}

func facts(states ...workflows.State) []analytics.Session {
	var out []analytics.Session
	for _, s := range states {
		out = append(out, analytics.FromState(s))
	}
	return out
}

func TestIsAbandoned(t *testing.T) {
	waiting := abandoned("w", at(9, 0))
	waiting.Attendance.WaitingRoom[0].Left = nil
	waiting.Attendance.WaitingSince = tp(at(8, 59))
	admitted := abandoned("a", at(9, 0))
	admitted.Attendance.WaitingRoom[0].Admitted = true
	joined := abandoned("j", at(9, 0))
	joined.Attendance.Patient = []workflows.Interval{{From: at(9, 5)}}
	for _, tc := range []struct {
		name string
		s    workflows.State
		want bool
	}{
		{"waited and left", abandoned("x", at(9, 0)), true},
		{"still waiting", waiting, false},
		{"admitted", admitted, false},
		{"joined the meeting", joined, false},
		{"never waited", visited("v", at(9, 0), 30, 25), false},
		{"nothing at all", state("n", at(9, 0), workflows.StatusNoShow), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, analytics.IsAbandoned(tc.s))
		})
	}
}

func TestComputeEdgeCases(t *testing.T) {
	week := analytics.Range{From: day0, To: day0.AddDate(0, 0, 7)}

	running := state("running", at(10, 0), workflows.StatusInProgress)
	running.Attendance = workflows.Attendance{ActualStart: tp(at(10, 0)), Live: true,
		Provider: []workflows.Interval{{From: at(10, 0)}}}
	cancelled := state("cancelled", at(11, 0), workflows.StatusCancelled)
	cancelled.Cancellation = &workflows.Cancellation{Reason: workflows.CancelByPatient,
		At: at(8, 0)}
	noShow := state("noshow", at(12, 0), workflows.StatusNoShow)
	noShow.NoShow = true
	insecure := visited("insecure", at(13, 0), 20, 20)
	insecure.Security = video.Security{EncryptionEnabled: true}
	insecure.Attendance.Recording = ""
	other := visited("other", day0.AddDate(0, 0, 2).Add(9*time.Hour), 40, 30)
	other.ProviderID = "prov-b"
	failed := state("failed", at(14, 0), workflows.StatusFailed)
	failed.MeetingID, failed.Security = "", video.Security{}

	for _, tc := range []struct {
		name  string
		in    []workflows.State
		check func(t *testing.T, r analytics.Report)
	}{
		{"empty range", nil, func(t *testing.T, r analytics.Report) {
			assert.Zero(t, r.Sessions)
			assert.Len(t, r.Buckets, 7, "empty buckets are listed")
			assert.Nil(t, r.Duration.AverageSeconds)
			assert.Nil(t, r.NoShow.Rate, "no concluded session: no rate, not 0")
			assert.Nil(t, r.Utilization.Rate)
			assert.Nil(t, r.Encryption.Rate)
			assert.Nil(t, r.Recording.Rate)
			assert.Empty(t, r.Providers)
		}},
		{"still running", []workflows.State{running}, func(t *testing.T, r analytics.Report) {
			assert.Equal(t, 1, r.ByStatus["IN_PROGRESS"])
			assert.Zero(t, r.Duration.Sessions, "no end yet: no duration")
			assert.Zero(t, r.NoShow.Concluded, "not decided yet")
			assert.Zero(t, r.Utilization.Sessions)
			assert.Equal(t, 1, r.Recording.Held)
			assert.Equal(t, 1, r.Encryption.Meetings)
		}},
		{"cancelled", []workflows.State{cancelled}, func(t *testing.T, r analytics.Report) {
			assert.Equal(t, 1, r.ByStatus["CANCELLED"])
			assert.Zero(t, r.NoShow.Concluded, "a cancellation is not a no-show")
			assert.Zero(t, r.Utilization.BookedMinutes, "cancelled time is not booked")
			assert.Zero(t, r.Recording.Held)
		}},
		{"no-show with abandonment", []workflows.State{
			noShow, abandoned("ab", at(9, 0)), visited("ok", at(15, 0), 30, 25),
		}, func(t *testing.T, r analytics.Report) {
			assert.Equal(t, 3, r.NoShow.Concluded)
			assert.Equal(t, 1, r.NoShow.NoShows)
			assert.Equal(t, 1, r.NoShow.Abandoned)
			assert.Equal(t, 2, r.NoShow.Missed)
			require.NotNil(t, r.NoShow.Rate)
			assert.InDelta(t, 0.6667, *r.NoShow.Rate, 1e-9)
			assert.Equal(t, 90, r.Utilization.BookedMinutes)
			assert.InDelta(t, 25, r.Utilization.AttendedMinutes, 1e-9)
			assert.InDelta(t, 0.2778, *r.Utilization.Rate, 1e-9)
		}},
		{"everything", []workflows.State{
			visited("a", at(9, 0), 30, 25), insecure, other, running, cancelled, noShow,
			failed,
			// Outside the range: left out.
			visited("before", day0.Add(-time.Minute), 30, 30),
			visited("after", week.To, 30, 30),
		}, func(t *testing.T, r analytics.Report) {
			assert.Equal(t, 7, r.Sessions)
			assert.Equal(t, map[string]int{"COMPLETED": 3, "IN_PROGRESS": 1,
				"CANCELLED": 1, "NO_SHOW": 1, "FAILED": 1}, r.ByStatus)
			assert.Equal(t, "2026-12-01", r.Buckets[0].Start)
			assert.Equal(t, 6, r.Buckets[0].Sessions)
			assert.Equal(t, 1, r.Buckets[2].Sessions)
			// (30 + 20 + 40) / 3 minutes.
			assert.Equal(t, 3, r.Duration.Sessions)
			assert.InDelta(t, 1800, *r.Duration.AverageSeconds, 1e-9)
			assert.InDelta(t, 30, *r.Duration.AverageMinutes, 1e-9)
			require.Len(t, r.Providers, 2)
			assert.Equal(t, "prov-a", r.Providers[0].ProviderID)
			assert.Equal(t, 3, r.Providers[0].Sessions) // a, insecure, noshow
			assert.Equal(t, 90, r.Providers[0].BookedMinutes)
			assert.InDelta(t, 45, r.Providers[0].AttendedMinutes, 1e-9)
			assert.InDelta(t, 0.5, *r.Providers[0].Rate, 1e-9)
			assert.InDelta(t, 1.0, *r.Providers[1].Rate, 1e-9)
			// Meetings: all but the failed one; insecure lacks the waiting room.
			assert.Equal(t, 6, r.Encryption.Meetings)
			assert.Equal(t, 5, r.Encryption.Compliant)
			assert.Equal(t, 6, r.Encryption.EncryptionEnabled)
			assert.InDelta(t, 0.8333, *r.Encryption.Rate, 1e-9)
			// Held: a, insecure, other, running; recorded: a, other.
			assert.Equal(t, 4, r.Recording.Held)
			assert.Equal(t, 3, r.Recording.Configured)
			assert.Equal(t, 2, r.Recording.Recorded)
			assert.Equal(t, 2, r.Recording.Compliant)
			assert.InDelta(t, 0.5, *r.Recording.Rate, 1e-9)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, analytics.Compute(facts(tc.in...), week, analytics.Day))
		})
	}
}

func TestBuckets(t *testing.T) {
	for _, tc := range []struct {
		bucket analytics.Bucket
		from   time.Time
		to     time.Time
		starts []string
	}{
		{analytics.Day, day0.Add(12 * time.Hour), day0.AddDate(0, 0, 2),
			[]string{"2026-12-01", "2026-12-02"}},
		// 2026-12-01 is a Tuesday: its week starts on Monday 2026-11-30.
		{analytics.Week, day0, day0.AddDate(0, 0, 14),
			[]string{"2026-11-30", "2026-12-07", "2026-12-14"}},
		{analytics.Month, day0.AddDate(0, 0, 10), day0.AddDate(0, 2, 0),
			[]string{"2026-12-01", "2027-01-01"}},
	} {
		t.Run(string(tc.bucket), func(t *testing.T) {
			r := analytics.Compute(facts(visited("x", tc.from, 30, 30)),
				analytics.Range{From: tc.from, To: tc.to}, tc.bucket)
			var starts []string
			for _, b := range r.Buckets {
				starts = append(starts, b.Start)
			}
			assert.Equal(t, tc.starts, starts)
			assert.Equal(t, 1, r.Buckets[0].Sessions)
		})
	}
	_, ok := analytics.ParseBucket("year")
	assert.False(t, ok)
	b, ok := analytics.ParseBucket("")
	assert.True(t, ok)
	assert.Equal(t, analytics.Day, b)
}

func TestParseRange(t *testing.T) {
	span := 92 * 24 * time.Hour
	for _, tc := range []struct {
		name, from, to string
		want           analytics.Range
		problems       []string
	}{
		{"dates", "2026-12-01", "2026-12-08",
			analytics.Range{From: day0, To: day0.AddDate(0, 0, 7)}, nil},
		{"RFC 3339 with offset", "2026-12-01T01:00:00+01:00", "2026-12-01T12:00:00Z",
			analytics.Range{From: day0, To: day0.Add(12 * time.Hour)}, nil},
		{"missing", "", "", analytics.Range{},
			[]string{"from is required", "to is required"}},
		{"bad", "yesterday", "2026-13-01", analytics.Range{}, []string{
			"from must be an RFC 3339 time or a YYYY-MM-DD date",
			"to must be an RFC 3339 time or a YYYY-MM-DD date"}},
		{"reversed", "2026-12-08", "2026-12-01", analytics.Range{},
			[]string{"to must be after from"}},
		{"empty", "2026-12-01", "2026-12-01", analytics.Range{},
			[]string{"to must be after from"}},
		{"too wide", "2026-01-01", "2026-12-01", analytics.Range{},
			[]string{"the range must be at most 92 days long"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, problems := analytics.ParseRange(tc.from, tc.to, span)
			assert.Equal(t, tc.problems, problems)
			if tc.problems == nil {
				assert.True(t, tc.want.From.Equal(r.From), r.From)
				assert.True(t, tc.want.To.Equal(r.To), r.To)
			}
		})
	}
}

func TestFromStateKeepsNoPHIAndSummarisesRoles(t *testing.T) {
	s := visited("SESSION-1", at(9, 0), 30, 25)
	s.Attendance.Other = []workflows.Interval{{From: at(9, 1), To: tp(at(9, 2))},
		{From: at(9, 3), To: tp(at(9, 4))}}
	s.Cancellation = nil
	f := analytics.FromState(s)
	assert.Equal(t, "S*** J***", f.PatientMasked)
	assert.Equal(t, 30, f.ActualMinutes)
	assert.Equal(t, analytics.Role{Role: workflows.RoleProvider, Intervals: 1, Seconds: 1800},
		f.Role(workflows.RoleProvider))
	assert.Equal(t, analytics.Role{Role: workflows.RoleOther, Intervals: 2, Seconds: 120},
		f.Role(workflows.RoleOther))
	assert.True(t, f.MeetingCreated)
	assert.True(t, f.Concluded())
	assert.False(t, f.Missed())
}
