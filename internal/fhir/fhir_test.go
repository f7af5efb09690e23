package fhir_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/fhir"
	"github.com/telehealth/sessions/workflows"
)

var start = time.Date(2027, 3, 1, 16, 0, 0, 0, time.UTC)

func at(m int) *time.Time {
	t := start.Add(time.Duration(m) * time.Minute)
	return &t
}

// scheduled is a session whose meeting exists and whose visit has not begun.
func scheduled() workflows.State {
	return workflows.State{
		SessionID:       "SESSION-1803909600000-eu33tg",
		BookingID:       "BOOK-1",
		Status:          workflows.StatusScheduled,
		ScheduledStart:  start,
		ScheduledEnd:    start.Add(30 * time.Minute),
		DurationMinutes: 30,
		MeetingID:       "81234567890",
		Platform:        "zoom",
		MeetingURL:      "https://zoom.us/j/81234567890?pwd=abc",
		ProviderURL:     "https://zoom.us/s/81234567890?zak=secret",
		UpdatedAt:       start.Add(-2 * time.Hour),
		ProviderID:      "prov-59fb352b05db669da325",
		PatientMasked:   "S*** J***",
		PatientKey:      "pk-0123456789",
	}
}

// normal is the workflows' normal visit: host from -2m, patient waits -1m..+2m, in
// the meeting +2m..+27m, meeting ends +30m.
func normal() workflows.State {
	s := scheduled()
	s.Status = workflows.StatusCompleted
	s.UpdatedAt = *at(30)
	s.Attendance = workflows.Attendance{
		Provider:         []workflows.Interval{{From: *at(-2), To: at(30)}},
		Patient:          []workflows.Interval{{From: *at(2), To: at(27)}},
		Other:            []workflows.Interval{{From: *at(5), To: at(10)}},
		WaitingRoom:      []workflows.Wait{{Entered: *at(-1), Left: at(2), Admitted: true}},
		TotalWaitSeconds: 180, ActualStart: at(-2), ActualEnd: at(30), Instances: 1,
		BillableSeconds: 1500, BillableMinutes: 25, PatientSeen: true,
	}
	return s
}

func noShow() workflows.State {
	s := scheduled()
	s.Status, s.NoShow, s.UpdatedAt = workflows.StatusNoShow, true, *at(15)
	return s
}

func cancelled() workflows.State {
	s := scheduled()
	s.Status = workflows.StatusCancelled
	s.Cancellation = &workflows.Cancellation{Reason: workflows.CancelByPatient, At: *at(-90)}
	return s
}

func waiting() workflows.State {
	s := scheduled()
	s.Status = workflows.StatusInProgress
	s.Attendance = workflows.Attendance{
		Provider:    []workflows.Interval{{From: *at(-2)}},
		WaitingRoom: []workflows.Wait{{Entered: *at(-1)}},
		ActualStart: at(-2), Live: true, WaitingSince: at(-1),
	}
	return s
}

func together() workflows.State {
	s := waiting()
	s.Attendance.WaitingRoom[0].Left, s.Attendance.WaitingRoom[0].Admitted = at(2), true
	s.Attendance.WaitingSince = nil
	s.Attendance.Patient = []workflows.Interval{{From: *at(2)}}
	s.Attendance.PatientSeen = true
	return s
}

// rejoinGrace: the meeting ended, but the session waits for a host who dropped.
func rejoinGrace() workflows.State {
	s := together()
	s.Attendance.Live = false
	s.Attendance.ActualEnd = at(20)
	s.Attendance.Patient[0].To = at(20)
	s.Attendance.Provider[0].To = at(20)
	return s
}

// R4 value sets the resources bind to (required bindings).
var (
	appointmentStatuses = []string{"proposed", "pending", "booked", "arrived", "fulfilled",
		"cancelled", "noshow", "entered-in-error", "checked-in", "waitlist"}
	encounterStatuses = []string{"planned", "arrived", "triaged", "in-progress", "onleave",
		"finished", "cancelled", "entered-in-error", "unknown"}
	participationStatuses = []string{"accepted", "declined", "tentative", "needs-action"}
	participantRequired   = []string{"required", "optional", "information-only"}
	instantPattern        = regexp.MustCompile(
		`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
)

// validate checks the Bundle against the R4 rules the resources are subject to and
// returns its Appointment and Encounter, read back through the library's types.
func validate(t *testing.T, b r4.Bundle) (r4.Appointment, r4.Encounter) {
	t.Helper()
	raw, err := json.Marshal(b)
	require.NoError(t, err)

	// The library's types round-trip.
	back, err := r4.UnmarshalBundle(raw)
	require.NoError(t, err)
	again, err := json.Marshal(back)
	require.NoError(t, err)
	assert.JSONEq(t, string(raw), string(again))

	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.Equal(t, "Bundle", doc["resourceType"])
	assert.Equal(t, "collection", doc["type"])
	entries := doc["entry"].([]any)
	require.Len(t, entries, 2)
	urls := map[string]string{}
	for _, e := range entries {
		e := e.(map[string]any)
		res := e["resource"].(map[string]any)
		assert.Regexp(t, `^urn:uuid:[0-9a-f-]{36}$`, e["fullUrl"])
		urls[res["resourceType"].(string)] = e["fullUrl"].(string)
	}

	appt, err := r4.UnmarshalAppointment(back.Entry[0].Resource)
	require.NoError(t, err)
	enc, err := r4.UnmarshalEncounter(back.Entry[1].Resource)
	require.NoError(t, err)
	a := entries[0].(map[string]any)["resource"].(map[string]any)
	e := entries[1].(map[string]any)["resource"].(map[string]any)
	assert.Equal(t, "Appointment", a["resourceType"])
	assert.Equal(t, "Encounter", e["resourceType"])

	// Appointment: status (1..1, required binding); participant 1..*, each with a
	// status and a type or an actor (app-1); start and end unless proposed or
	// cancelled (app-3), and both or neither (app-2).
	assert.Contains(t, appointmentStatuses, a["status"])
	parts, _ := a["participant"].([]any)
	require.NotEmpty(t, parts)
	for _, p := range parts {
		p := p.(map[string]any)
		assert.Contains(t, participationStatuses, p["status"])
		if r, ok := p["required"]; ok {
			assert.Contains(t, participantRequired, r)
		}
		_, typed := p["type"]
		_, acted := p["actor"]
		assert.True(t, typed || acted, "app-1")
	}
	_, hasStart := a["start"]
	_, hasEnd := a["end"]
	assert.Equal(t, hasStart, hasEnd, "app-2")
	if s := a["status"]; s != "proposed" && s != "cancelled" {
		assert.True(t, hasStart, "app-3")
	}
	for _, k := range []string{"start", "end"} {
		if v, ok := a[k]; ok {
			assert.Regexp(t, instantPattern, v)
		}
	}
	assertIdentifier(t, a)

	// Encounter: status and class (1..1); class VR from v3-ActCode; statusHistory
	// entries with a status and a period; the Appointment referenced by fullUrl.
	assert.Contains(t, encounterStatuses, e["status"])
	class := e["class"].(map[string]any)
	assert.Equal(t, fhir.ActCodeSystem, class["system"])
	assert.Equal(t, "VR", class["code"])
	for _, h := range asList(e["statusHistory"]) {
		h := h.(map[string]any)
		assert.Contains(t, encounterStatuses, h["status"])
		p := h["period"].(map[string]any)
		assert.NotEmpty(t, p, "a period says something")
		assertPeriod(t, p)
	}
	refs := asList(e["appointment"])
	require.Len(t, refs, 1)
	assert.Equal(t, urls["Appointment"], refs[0].(map[string]any)["reference"])
	if l, ok := e["length"].(map[string]any); ok {
		assert.Equal(t, fhir.UCUMSystem, l["system"])
		assert.Equal(t, "min", l["code"])
	}
	for _, p := range asList(e["participant"]) {
		p := p.(map[string]any)
		for _, ty := range asList(p["type"]) {
			c := ty.(map[string]any)["coding"].([]any)[0].(map[string]any)
			assert.Equal(t, fhir.ParticipationTypeSystem, c["system"])
			assert.Contains(t, []string{"PPRF", "PART"}, c["code"])
		}
		assertPeriod(t, p["period"].(map[string]any))
	}
	if p, ok := e["period"].(map[string]any); ok {
		assertPeriod(t, p)
	}
	assertIdentifier(t, e)

	// Only the patient's link, and no name but the masked one.
	text := string(raw)
	assert.NotContains(t, text, "zak=")
	assert.NotContains(t, text, "Sarah")
	return appt, enc
}

func assertIdentifier(t *testing.T, res map[string]any) {
	t.Helper()
	ids := asList(res["identifier"])
	require.Len(t, ids, 1)
	id := ids[0].(map[string]any)
	assert.Equal(t, fhir.SessionIDSystem, id["system"])
	assert.Equal(t, "SESSION-1803909600000-eu33tg", id["value"])
}

// assertPeriod checks per-1: start, if both, not after end.
func assertPeriod(t *testing.T, p map[string]any) {
	t.Helper()
	from, okFrom := p["start"].(string)
	to, okTo := p["end"].(string)
	if okFrom {
		assert.Regexp(t, instantPattern, from)
	}
	if okTo {
		assert.Regexp(t, instantPattern, to)
	}
	if okFrom && okTo {
		f, _ := time.Parse(time.RFC3339, from)
		e, _ := time.Parse(time.RFC3339, to)
		assert.False(t, f.After(e), "per-1: %s after %s", from, to)
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func statuses(h []r4.EncounterStatusHistory) []string {
	var out []string
	for _, x := range h {
		out = append(out, x.Status.Code())
	}
	return out
}

func TestBundleOfNormalVisit(t *testing.T) {
	b, err := fhir.Bundle(normal())
	require.NoError(t, err)

	appt, enc := validate(t, b)

	assert.Equal(t, "fulfilled", appt.Status.Code())
	assert.Equal(t, "2027-03-01T16:00:00Z", *appt.Start)
	assert.Equal(t, "2027-03-01T16:30:00Z", *appt.End)
	require.Len(t, appt.Participant, 2)
	pat, prov := appt.Participant[0], appt.Participant[1]
	assert.Equal(t, "Patient", *pat.Actor.Type)
	assert.Equal(t, "S*** J***", *pat.Actor.Display)
	assert.Equal(t, "2027-03-01T16:02:00Z", *pat.Period.Start)
	assert.Equal(t, "2027-03-01T16:27:00Z", *pat.Period.End)
	assert.Equal(t, "Practitioner", *prov.Actor.Type)
	assert.Equal(t, "PPRF", *prov.Type[0].Coding[0].Code)

	// The patient's join link, through R5's virtualService.
	require.Len(t, appt.Extension, 1)
	vs := appt.Extension[0]
	assert.Equal(t,
		"http://hl7.org/fhir/5.0/StructureDefinition/extension-Appointment.virtualService",
		vs.Url)
	sub := map[string]r4.Extension{}
	for _, x := range vs.Extension {
		sub[x.Url] = x
	}
	assert.Equal(t, "https://zoom.us/j/81234567890?pwd=abc", *sub["address"].ValueUrl)
	assert.Equal(t, fhir.VirtualServiceTypeSystem, *sub["channelType"].ValueCoding.System)
	assert.Equal(t, "zoom", *sub["channelType"].ValueCoding.Code)
	assert.Equal(t, "81234567890", *sub["sessionKey"].ValueString)

	assert.Equal(t, "finished", enc.Status.Code())
	assert.Equal(t, "virtual", *enc.Class.Display)
	assert.Equal(t, "2027-03-01T15:58:00Z", *enc.Period.Start)
	assert.Equal(t, "2027-03-01T16:30:00Z", *enc.Period.End)
	assert.Equal(t, "25", enc.Length.Value.String())
	require.Equal(t, []string{"planned", "arrived", "in-progress", "finished"},
		statuses(enc.StatusHistory))
	h := enc.StatusHistory
	assert.Nil(t, h[0].Period.Start, "when it was booked is not the session's to say")
	assert.Equal(t, "2027-03-01T15:59:00Z", *h[0].Period.End)
	assert.Equal(t, "2027-03-01T15:59:00Z", *h[1].Period.Start)
	assert.Equal(t, "2027-03-01T16:02:00Z", *h[1].Period.End)
	assert.Equal(t, "2027-03-01T16:02:00Z", *h[2].Period.Start)
	assert.Equal(t, "2027-03-01T16:30:00Z", *h[2].Period.End)
	assert.Equal(t, "2027-03-01T16:30:00Z", *h[3].Period.Start)
	assert.Nil(t, h[3].Period.End)
	require.Len(t, enc.Participant, 2, "the provider and one other")
	assert.Equal(t, "2027-03-01T15:58:00Z", *enc.Participant[0].Period.Start)
	assert.Equal(t, "PART", *enc.Participant[1].Type[0].Coding[0].Code)
	assert.Equal(t, "2027-03-01T16:05:00Z", *enc.Participant[1].Period.Start)
	assert.Equal(t, "Patient", *enc.Subject.Type)
}

func TestStatusesThroughTheVisit(t *testing.T) {
	for name, c := range map[string]struct {
		state       workflows.State
		appointment string
		encounter   string
		history     []string
	}{
		"scheduled": {scheduled(), "booked", "planned", nil},
		"waiting":   {waiting(), "arrived", "arrived", []string{"planned", "arrived"}},
		"together": {together(), "arrived", "in-progress",
			[]string{"planned", "arrived", "in-progress"}},
		"ended, host may rejoin": {rejoinGrace(), "arrived", "in-progress",
			[]string{"planned", "arrived", "in-progress"}},
		"no-show":   {noShow(), "noshow", "cancelled", nil},
		"cancelled": {cancelled(), "cancelled", "cancelled", []string{"planned", "cancelled"}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := fhir.Bundle(c.state)
			require.NoError(t, err)
			appt, enc := validate(t, b)
			assert.Equal(t, c.appointment, appt.Status.Code())
			assert.Equal(t, c.encounter, enc.Status.Code())
			assert.Equal(t, c.history, statuses(enc.StatusHistory))
		})
	}
}

func TestCancelledAppointmentSaysWhy(t *testing.T) {
	appt := fhir.Appointment(cancelled())
	require.NotNil(t, appt.CancelationReason)
	assert.Equal(t, "cancelled by patient", *appt.CancelationReason.Text)

	enc := fhir.Encounter(cancelled(), "urn:uuid:x")
	assert.Nil(t, enc.Period, "no meeting, no period")
	assert.Nil(t, enc.Length)
	assert.Equal(t, "2027-03-01T14:30:00Z", *enc.StatusHistory[1].Period.Start)
}

func TestFullURLsAreStablePerSession(t *testing.T) {
	a := fhir.FullURL("SESSION-1803909600000-eu33tg", "Encounter")
	assert.Equal(t, a, fhir.FullURL("SESSION-1803909600000-eu33tg", "Encounter"))
	assert.NotEqual(t, a, fhir.FullURL("SESSION-1803909600000-eu33tg", "Appointment"))
	assert.NotEqual(t, a, fhir.FullURL("SESSION-1803909600001-eu33tg", "Encounter"))
}

func TestNoLinkWithoutMeeting(t *testing.T) {
	s := scheduled()
	s.MeetingURL, s.Platform = "", "meet"
	assert.Empty(t, fhir.Appointment(s).Extension)

	s = scheduled()
	s.Platform = "doxy"
	ext := fhir.Appointment(s).Extension
	require.Len(t, ext, 1)
	var urls []string
	for _, x := range ext[0].Extension {
		urls = append(urls, x.Url)
	}
	assert.False(t, slices.Contains(urls, "channelType"),
		"doxy has no code in virtual-service-type")
	assert.True(t, strings.HasPrefix(*ext[0].Extension[0].ValueUrl, "https://zoom.us/j/"))
}
