package workflows

import (
	"strings"
	"testing"
	"time"
)

func TestAttendanceArithmetic(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	host := &Participant{ID: "h", Host: true}
	laptop := &Participant{ID: "p1", Key: "pk"}
	phone := &Participant{ID: "p2", Key: "pk"}
	interp := &Participant{ID: "i", Key: "someone-else"}
	ev := func(typ EventType, m int, p *Participant) VisitEvent {
		id := ""
		if p != nil {
			id = p.ID
		}
		return VisitEvent{Key: string(typ) + id + at(m).String(), Type: typ, At: at(m),
			Participant: p}
	}
	events := []VisitEvent{
		ev(EventMeetingStarted, 0, nil),
		ev(EventJoined, 0, host),
		ev(EventWaitingJoined, 1, laptop),
		ev(EventAdmitted, 3, laptop),
		ev(EventJoined, 3, laptop),
		// Put back in the waiting room for two minutes, then in again.
		ev(EventPutInWaiting, 10, laptop),
		ev(EventAdmitted, 12, laptop),
		ev(EventJoined, 12, laptop),
		// The patient's phone joins too: the overlap counts once.
		ev(EventJoined, 15, phone),
		ev(EventLeft, 20, phone),
		ev(EventJoined, 5, interp),
		ev(EventLeft, 25, laptop),
		ev(EventMeetingEnded, 30, nil),
	}
	// Delivered backwards: the arithmetic follows the events' own times.
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}
	a := computeAttendance(events, "pk", at(60), nil)

	if got := a.BillableSeconds; got != (7+13)*60 {
		t.Errorf("billable %ds, want 20 min (3-10, 12-25)", got)
	}
	if a.BillableMinutes != 20 {
		t.Errorf("billable minutes %d", a.BillableMinutes)
	}
	if a.TotalWaitSeconds != (2+2)*60 {
		t.Errorf("wait %ds, want 4 min", a.TotalWaitSeconds)
	}
	if len(a.WaitingRoom) != 2 || !a.WaitingRoom[0].Admitted || !a.WaitingRoom[1].Admitted {
		t.Errorf("waiting room %+v", a.WaitingRoom)
	}
	if len(a.Other) != 1 || a.Other[0].To == nil || !a.Other[0].To.Equal(at(30)) {
		t.Errorf("interpreter %+v: closed by the meeting's end", a.Other)
	}
	if len(a.Patient) != 3 || a.Live || a.Instances != 1 || !a.ActualEnd.Equal(at(30)) {
		t.Errorf("attendance %+v", a)
	}

	// Still running: open intervals count up to now; closing them freezes the count.
	live := computeAttendance(events[5:], "pk", at(20), nil) // no end, no last leave
	if live.ActualEnd != nil || !live.Live {
		t.Errorf("live meeting %+v", live)
	}
	closed := at(22)
	frozen := computeAttendance(events[5:], "pk", at(90), &closed)
	if frozen.ActualEnd == nil || !frozen.ActualEnd.Equal(closed) || frozen.Live {
		t.Errorf("closed %+v", frozen)
	}
}

func TestProviderKeyHidesTheProvider(t *testing.T) {
	k := ProviderKey(" Dr.Smith@Clinic.example ")
	if k != ProviderKey("dr.smith@clinic.example") {
		t.Error("key depends on case or spaces")
	}
	if strings.Contains(k, "smith") || !strings.HasPrefix(k, "prov-") || len(k) != 25 {
		t.Errorf("key %q", k)
	}
	if ProviderKey("") != "unassigned" {
		t.Error("no provider")
	}
	if patientKey("S-1") == patientKey("S-2") {
		t.Error("patient keys collide")
	}
}
