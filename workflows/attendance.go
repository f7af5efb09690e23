package workflows

import (
	"cmp"
	"slices"
	"time"
)

// eventRank orders events that carry the same timestamp the way they happen: a meeting
// starts before anyone joins it, a patient waits before being admitted, and everyone
// leaves before it ends.
var eventRank = map[EventType]int{
	EventMeetingStarted:    0,
	EventWaitingJoined:     1,
	EventAdmitted:          2,
	EventWaitingLeft:       3,
	EventJoined:            4,
	EventPutInWaiting:      5,
	EventLeft:              6,
	EventRecordingStarted:  7,
	EventRecordingStopped:  8,
	EventMeetingEnded:      9,
	EventRecordingComplete: 10,
	EventMeetingDeleted:    11,
}

// sortEvents puts events in the order they happened on the platform.
func sortEvents(events []VisitEvent) {
	slices.SortStableFunc(events, func(a, b VisitEvent) int {
		return cmp.Or(a.At.Compare(b.At),
			cmp.Compare(eventRank[a.Type], eventRank[b.Type]),
			cmp.Compare(a.Key, b.Key))
	})
}

// roleOf tells who a participant is: the host is the provider; the patient is whoever
// carries the session's patient key, or, on meetings without registration, any guest
// who carries no stable key at all; anyone else is other. Names never count.
func roleOf(p *Participant, patientKey string) Role {
	switch {
	case p.Host:
		return RoleProvider
	case p.Key == "" || p.Key == patientKey:
		return RolePatient
	default:
		return RoleOther
	}
}

// presence is an open interval: whose, and where it is.
type presence struct {
	id    string
	role  Role
	index int
}

// computeAttendance derives the attendance from the events, in the order they
// happened, whatever order they arrived in. Intervals still open are counted up to
// now; closedAt, when set, closes them for good (the session stopped waiting for the
// platform).
func computeAttendance(
	events []VisitEvent,
	patientKey string,
	now time.Time,
	closedAt *time.Time,
) Attendance {
	sorted := slices.Clone(events)
	sortEvents(sorted)

	a := Attendance{Provider: []Interval{}, Patient: []Interval{}, Other: []Interval{},
		WaitingRoom: []Wait{}}
	var open []presence
	lists := map[Role]*[]Interval{
		RoleProvider: &a.Provider, RolePatient: &a.Patient, RoleOther: &a.Other,
	}
	closeWait := func(at time.Time, admitted bool) {
		if n := len(a.WaitingRoom); n > 0 && a.WaitingRoom[n-1].Left == nil {
			t := at
			a.WaitingRoom[n-1].Left = &t
			a.WaitingRoom[n-1].Admitted = a.WaitingRoom[n-1].Admitted || admitted
		}
	}
	leave := func(id string, at time.Time) {
		for i, p := range open {
			if p.id == id {
				t := at
				(*lists[p.role])[p.index].To = &t
				open = slices.Delete(open, i, i+1)
				return
			}
		}
	}
	leaveAll := func(at time.Time) {
		for _, p := range open {
			t := at
			(*lists[p.role])[p.index].To = &t
		}
		open = nil
	}

	for _, e := range sorted {
		var role Role
		if e.Participant != nil {
			role = roleOf(e.Participant, patientKey)
		}
		patient := role == RolePatient
		switch e.Type {
		case EventMeetingStarted:
			if !a.Live {
				a.Live = true
				a.Instances++
				a.ActualEnd = nil
			}
			if a.ActualStart == nil {
				t := e.At
				a.ActualStart = &t
			}
		case EventMeetingEnded:
			if a.Live || a.ActualEnd == nil {
				t := e.At
				a.ActualEnd = &t
			}
			a.Live = false
			leaveAll(e.At)
			closeWait(e.At, false)
		case EventMeetingDeleted:
			a.MeetingDeleted = true
		case EventWaitingJoined, EventPutInWaiting:
			if e.Participant == nil {
				continue
			}
			if e.Type == EventPutInWaiting {
				leave(e.Participant.ID, e.At)
			}
			if n := len(a.WaitingRoom); patient && (n == 0 || a.WaitingRoom[n-1].Left != nil) {
				a.WaitingRoom = append(a.WaitingRoom, Wait{Entered: e.At})
				a.PatientSeen = true
			}
		case EventAdmitted:
			if patient {
				closeWait(e.At, true)
			}
		case EventWaitingLeft:
			if patient {
				closeWait(e.At, false)
			}
		case EventJoined:
			if e.Participant == nil {
				continue
			}
			if patient {
				closeWait(e.At, true)
				a.PatientSeen = true
			}
			if slices.ContainsFunc(open, func(p presence) bool {
				return p.id == e.Participant.ID
			}) {
				continue
			}
			list := lists[role]
			*list = append(*list, Interval{From: e.At})
			open = append(open, presence{id: e.Participant.ID, role: role,
				index: len(*list) - 1})
		case EventLeft:
			if e.Participant != nil {
				leave(e.Participant.ID, e.At)
			}
		case EventRecordingStarted:
			a.Recording = "recording"
		case EventRecordingStopped:
			a.Recording = "stopped"
		case EventRecordingComplete:
			a.Recording = "completed"
		}
	}

	until := now
	if closedAt != nil {
		until = *closedAt
		leaveAll(until)
		closeWait(until, false)
		a.Live = false
		if a.ActualStart != nil && a.ActualEnd == nil {
			t := until
			a.ActualEnd = &t
		}
	}
	if n := len(a.WaitingRoom); n > 0 && a.WaitingRoom[n-1].Left == nil {
		t := a.WaitingRoom[n-1].Entered
		a.WaitingSince = &t
	}
	var wait time.Duration
	for _, w := range a.WaitingRoom {
		wait += end(w.Left, until).Sub(w.Entered)
	}
	a.TotalWaitSeconds = int(wait / time.Second)
	billable := overlap(union(a.Provider, until), union(a.Patient, until))
	a.BillableSeconds = int(billable / time.Second)
	a.BillableMinutes = int((billable + time.Minute - 1) / time.Minute)
	return a
}

func end(t *time.Time, until time.Time) time.Time {
	if t == nil || t.After(until) {
		return until
	}
	return *t
}

// span is a closed interval.
type span struct{ from, to time.Time }

// union merges intervals (open ones end at until) into sorted, disjoint spans.
func union(in []Interval, until time.Time) []span {
	var s []span
	for _, i := range in {
		if to := end(i.To, until); to.After(i.From) {
			s = append(s, span{i.From, to})
		}
	}
	slices.SortFunc(s, func(a, b span) int { return a.from.Compare(b.from) })
	var out []span
	for _, x := range s {
		if n := len(out); n > 0 && !x.from.After(out[n-1].to) {
			if x.to.After(out[n-1].to) {
				out[n-1].to = x.to
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// overlap is how long two sets of disjoint spans overlap.
func overlap(a, b []span) time.Duration {
	var total time.Duration
	for i, j := 0, 0; i < len(a) && j < len(b); {
		from := a[i].from
		if b[j].from.After(from) {
			from = b[j].from
		}
		to := a[i].to
		if b[j].to.Before(to) {
			to = b[j].to
		}
		if to.After(from) {
			total += to.Sub(from)
		}
		if a[i].to.Before(b[j].to) {
			i++
		} else {
			j++
		}
	}
	return total
}
