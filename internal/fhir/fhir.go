// Package fhir renders a session as FHIR R4 resources: the Appointment (the booking
// and how it turned out) and the Encounter (what happened in the visit), in a Bundle.
// It uses the samply R4 model types, and puts no PHI in them beyond the patient's
// masked name and the patient's join link. Its Client writes both to an EHR as
// conditional updates on the session identifier (client.go).
package fhir

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/telehealth/sessions/workflows"
)

// Code systems, extensions and identifier systems the resources use.
const (
	// VirtualServiceURL is R5's Appointment.virtualService as an R4 cross-version
	// extension; it carries the patient's join link.
	VirtualServiceURL = "http://hl7.org/fhir/5.0/StructureDefinition/" +
		"extension-Appointment.virtualService"
	// VirtualServiceTypeSystem codes the platform (R5 virtual-service-type).
	VirtualServiceTypeSystem = "http://hl7.org/fhir/virtual-service-type"
	// ActCodeSystem holds the Encounter class; VR is "virtual".
	ActCodeSystem = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	// ParticipationTypeSystem types the participants (PPRF, PART).
	ParticipationTypeSystem = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	// UCUMSystem measures the Encounter's length.
	UCUMSystem = "http://unitsofmeasure.org"

	// SessionIDSystem identifies a session; a conditional update keys on it.
	SessionIDSystem = "urn:telehealth:session-id"
	// ProviderIDSystem and PatientKeySystem are the opaque keys of the people: the
	// provider's key (workflows.ProviderKey) and the session's patient key.
	ProviderIDSystem = "urn:telehealth:provider-id"
	PatientKeySystem = "urn:telehealth:patient-key"
)

// namespace makes the Bundle's urn:uuid fullUrls from session ids, so that the same
// session always gives the same ones.
var namespace = uuid.MustParse("5a0b1f4e-7c1d-4c1e-9a57-2b9d6f0e8c31")

// Bundle returns the session's Appointment and Encounter in a collection Bundle.
func Bundle(s workflows.State) (r4.Bundle, error) {
	apptURL, encURL := FullURL(s.SessionID, "Appointment"), FullURL(s.SessionID, "Encounter")
	appt, err := json.Marshal(Appointment(s))
	if err != nil {
		return r4.Bundle{}, fmt.Errorf("fhir appointment: %w", err)
	}
	enc, err := json.Marshal(Encounter(s, apptURL))
	if err != nil {
		return r4.Bundle{}, fmt.Errorf("fhir encounter: %w", err)
	}
	return r4.Bundle{
		Type:      r4.BundleTypeCollection,
		Timestamp: instant(s.UpdatedAt),
		Entry: []r4.BundleEntry{
			{FullUrl: &apptURL, Resource: appt},
			{FullUrl: &encURL, Resource: enc},
		},
	}, nil
}

// FullURL is the urn:uuid under which the Bundle carries one of a session's resources.
func FullURL(sessionID, resourceType string) string {
	return "urn:uuid:" + uuid.NewSHA1(namespace, []byte(resourceType+"/"+sessionID)).String()
}

// Appointment is the booking: scheduled times, participants, the patient's join link
// and a status that moves booked → arrived → fulfilled, or noshow or cancelled.
func Appointment(s workflows.State) r4.Appointment {
	att := s.Attendance
	minutes := s.DurationMinutes
	a := r4.Appointment{
		Identifier:      []r4.Identifier{sessionIdentifier(s)},
		Status:          AppointmentStatus(s),
		Start:           instant(s.ScheduledStart),
		End:             instant(s.ScheduledEnd),
		MinutesDuration: &minutes,
	}
	switch {
	case s.Cancellation != nil:
		a.CancelationReason = &r4.CodeableConcept{
			Text: str("cancelled by " + string(s.Cancellation.Reason))}
	case s.Status == workflows.StatusFailed:
		a.CancelationReason = &r4.CodeableConcept{Text: str("the meeting could not be made")}
	}
	if ext, ok := virtualService(s); ok {
		a.Extension = []r4.Extension{ext}
	}

	patient := r4.AppointmentParticipant{
		Actor:    patientRef(s),
		Required: ptr(r4.ParticipantRequiredRequired),
		Status:   r4.ParticipationStatusAccepted,
		Period:   span(att.Patient),
	}
	provider := r4.AppointmentParticipant{
		Type:     []r4.CodeableConcept{participationType("PPRF", "primary performer")},
		Actor:    providerRef(s),
		Required: ptr(r4.ParticipantRequiredRequired),
		Status:   r4.ParticipationStatusAccepted,
		Period:   span(att.Provider),
	}
	a.Participant = []r4.AppointmentParticipant{patient, provider}
	return a
}

// AppointmentStatus maps the session onto the R4 appointment-status codes.
func AppointmentStatus(s workflows.State) r4.AppointmentStatus {
	att := s.Attendance
	switch {
	case s.Cancellation != nil, s.Status == workflows.StatusFailed:
		return r4.AppointmentStatusCancelled
	case s.NoShow:
		return r4.AppointmentStatusNoshow
	case att.PatientSeen && att.ActualEnd != nil && !att.Live &&
		(s.Status == workflows.StatusEnded || s.Status == workflows.StatusCompleted):
		return r4.AppointmentStatusFulfilled
	case att.PatientSeen || len(att.WaitingRoom) > 0:
		return r4.AppointmentStatusArrived
	}
	return r4.AppointmentStatusBooked
}

// Encounter is the visit: class VR, its status and how it got there, the meeting's
// period, the time provider and patient were together, the provider's and others'
// presence, and a reference to the Appointment (by its fullUrl in the Bundle).
func Encounter(s workflows.State, appointmentURL string) r4.Encounter {
	att := s.Attendance
	status, history := encounterStatus(s)
	e := r4.Encounter{
		Identifier:    []r4.Identifier{sessionIdentifier(s)},
		Status:        status,
		StatusHistory: history,
		Class: r4.Coding{System: str(ActCodeSystem), Code: str("VR"),
			Display: str("virtual")},
		Subject:     patientRef(s),
		Appointment: []r4.Reference{{Reference: &appointmentURL, Type: str("Appointment")}},
	}
	if att.ActualStart != nil {
		e.Period = &r4.Period{Start: instant(*att.ActualStart)}
		if att.ActualEnd != nil && !att.Live {
			e.Period.End = instant(*att.ActualEnd)
		}
	}
	if att.BillableSeconds > 0 || e.Status == r4.EncounterStatusFinished {
		n := json.Number(strconv.Itoa(att.BillableMinutes))
		e.Length = &r4.Duration{Value: &n, Unit: str("min"), System: str(UCUMSystem),
			Code: str("min")}
	}
	for _, iv := range att.Provider {
		e.Participant = append(e.Participant, r4.EncounterParticipant{
			Type:       []r4.CodeableConcept{participationType("PPRF", "primary performer")},
			Period:     period(iv),
			Individual: providerRef(s),
		})
	}
	for _, iv := range att.Other {
		e.Participant = append(e.Participant, r4.EncounterParticipant{
			Type:   []r4.CodeableConcept{participationType("PART", "Participation")},
			Period: period(iv),
		})
	}
	return e
}

// encounterStatus is planned → arrived (patient in the waiting room or the meeting) →
// in-progress (patient and provider together) → finished, or cancelled; the history
// lists each status reached whose times the session knows.
func encounterStatus(s workflows.State) (r4.EncounterStatus, []r4.EncounterStatusHistory) {
	att := s.Attendance
	var arrived, together, ended *time.Time
	if len(att.WaitingRoom) > 0 {
		arrived = &att.WaitingRoom[0].Entered
	}
	if len(att.Patient) > 0 && (arrived == nil || att.Patient[0].From.Before(*arrived)) {
		arrived = &att.Patient[0].From
	}
	together = firstOverlap(att.Provider, att.Patient)
	if att.ActualEnd != nil && !att.Live {
		ended = att.ActualEnd
	}

	status := r4.EncounterStatusPlanned
	switch {
	case s.Cancellation != nil, s.Status == workflows.StatusFailed, s.NoShow:
		status = r4.EncounterStatusCancelled
	case ended != nil && (s.Status == workflows.StatusEnded ||
		s.Status == workflows.StatusCompleted):
		status = r4.EncounterStatusFinished
	case together != nil:
		// Live, or ended within the grace a host has to start it again.
		status = r4.EncounterStatusInProgress
	case arrived != nil:
		status = r4.EncounterStatusArrived
	}

	// Each step reached, with when it began; each ends where the next begins.
	type step struct {
		status r4.EncounterStatus
		at     *time.Time
	}
	steps := []step{{r4.EncounterStatusPlanned, nil}}
	if arrived != nil {
		steps = append(steps, step{r4.EncounterStatusArrived, arrived})
	}
	if together != nil {
		steps = append(steps, step{r4.EncounterStatusInProgress, together})
	}
	switch {
	case status == r4.EncounterStatusFinished:
		steps = append(steps, step{r4.EncounterStatusFinished, ended})
	case s.Cancellation != nil:
		steps = append(steps, step{r4.EncounterStatusCancelled, &s.Cancellation.At})
	case status == r4.EncounterStatusCancelled:
		steps = append(steps, step{r4.EncounterStatusCancelled, nil})
	}
	var history []r4.EncounterStatusHistory
	for i, st := range steps {
		var p r4.Period
		if st.at != nil {
			p.Start = instant(*st.at)
		}
		if i+1 < len(steps) && steps[i+1].at != nil {
			p.End = instant(*steps[i+1].at)
		}
		if p.Start == nil && p.End == nil {
			continue // a period must say something
		}
		history = append(history, r4.EncounterStatusHistory{Status: st.status, Period: p})
	}
	return status, history
}

// firstOverlap is the first moment when both sets of intervals are open.
func firstOverlap(a, b []workflows.Interval) *time.Time {
	var first *time.Time
	for _, x := range a {
		for _, y := range b {
			from := x.From
			if y.From.After(from) {
				from = y.From
			}
			if (x.To != nil && !x.To.After(from)) || (y.To != nil && !y.To.After(from)) {
				continue
			}
			if first == nil || from.Before(*first) {
				f := from
				first = &f
			}
		}
	}
	return first
}

// virtualService is the patient's join link, never the provider's.
func virtualService(s workflows.State) (r4.Extension, bool) {
	if s.MeetingURL == "" {
		return r4.Extension{}, false
	}
	ext := r4.Extension{Url: VirtualServiceURL}
	codes := map[string]string{"zoom": "zoom", "teams": "ms-teams"}
	if code, ok := codes[s.Platform]; ok {
		ext.Extension = append(ext.Extension, r4.Extension{Url: "channelType",
			ValueCoding: &r4.Coding{System: str(VirtualServiceTypeSystem), Code: &code}})
	}
	// The cross-version slice of a choice element (address[x]) is named without its
	// type; the type is in the value.
	ext.Extension = append(ext.Extension, r4.Extension{Url: "address",
		ValueUrl: str(s.MeetingURL)})
	if s.MeetingID != "" {
		ext.Extension = append(ext.Extension, r4.Extension{Url: "sessionKey",
			ValueString: str(s.MeetingID)})
	}
	return ext, true
}

func sessionIdentifier(s workflows.State) r4.Identifier {
	return r4.Identifier{System: str(SessionIDSystem), Value: str(s.SessionID)}
}

// patientRef names the patient by their session key, displayed masked.
func patientRef(s workflows.State) *r4.Reference {
	ref := &r4.Reference{Type: str("Patient"),
		Identifier: &r4.Identifier{System: str(PatientKeySystem), Value: str(s.PatientKey)}}
	if s.PatientMasked != "" {
		ref.Display = str(s.PatientMasked)
	}
	return ref
}

func providerRef(s workflows.State) *r4.Reference {
	return &r4.Reference{Type: str("Practitioner"),
		Identifier: &r4.Identifier{System: str(ProviderIDSystem), Value: str(s.ProviderID)}}
}

func participationType(code, display string) r4.CodeableConcept {
	return r4.CodeableConcept{Coding: []r4.Coding{{System: str(ParticipationTypeSystem),
		Code: str(code), Display: str(display)}}}
}

// span is the first arrival to the last departure, open while present; nil when
// never present.
func span(in []workflows.Interval) *r4.Period {
	if len(in) == 0 {
		return nil
	}
	from, to, open := in[0].From, time.Time{}, false
	for _, iv := range in {
		if iv.From.Before(from) {
			from = iv.From
		}
		switch {
		case iv.To == nil:
			open = true
		case iv.To.After(to):
			to = *iv.To
		}
	}
	p := &r4.Period{Start: instant(from)}
	if !open {
		p.End = instant(to)
	}
	return p
}

func period(iv workflows.Interval) *r4.Period {
	p := &r4.Period{Start: instant(iv.From)}
	if iv.To != nil {
		p.End = instant(*iv.To)
	}
	return p
}

// instant is a FHIR instant: RFC 3339 with an offset.
func instant(t time.Time) *string {
	v := t.UTC().Format(time.RFC3339)
	return &v
}

func str(s string) *string { return &s }
func ptr[T any](v T) *T    { return &v }
