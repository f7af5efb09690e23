package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/workflows"
)

// Summary makes fakeVisits a whole Visits: the summary of its Get, without notes.
func (f *fakeVisits) Summary(ctx context.Context, id string) (workflows.Summary, error) {
	s, err := f.Get(ctx, id)
	return workflows.BuildSummary(s, ""), err
}

// afterSessions serves one finished session, with the provider's notes.
type afterSessions struct {
	fakeVisits
	state workflows.State
	notes phi.Text
	err   error
}

func (f *afterSessions) Get(_ context.Context, id string) (workflows.State, error) {
	switch {
	case f.err != nil:
		return workflows.State{}, f.err
	case id != f.state.SessionID:
		return workflows.State{}, api.ErrNotFound
	}
	return f.state, nil
}

func (f *afterSessions) Summary(ctx context.Context, id string) (workflows.Summary, error) {
	s, err := f.Get(ctx, id)
	return workflows.BuildSummary(s, f.notes), err
}

const visitNotes = "Recheck wound; patient reports dizziness"

func finished() workflows.State {
	t0 := time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC)
	at := func(m int) *time.Time { t := t0.Add(time.Duration(m) * time.Minute); return &t }
	return workflows.State{
		SessionID: links.SessionID, BookingID: "BOOK-9", Status: workflows.StatusCompleted,
		ScheduledStart: t0, ScheduledEnd: *at(30), DurationMinutes: 30,
		MeetingID: "812", Platform: "zoom", MeetingURL: links.MeetingURL,
		ProviderURL: links.ProviderURL, UpdatedAt: *at(31),
		ProviderID: "prov-0123", PatientMasked: "S*** J***", PatientKey: "pk-1",
		Attendance: workflows.Attendance{
			Provider:    []workflows.Interval{{From: *at(-2), To: at(30)}},
			Patient:     []workflows.Interval{{From: *at(2), To: at(27)}},
			WaitingRoom: []workflows.Wait{{Entered: *at(-1), Left: at(2), Admitted: true}},
			ActualStart: at(-2), ActualEnd: at(30), TotalWaitSeconds: 180,
			BillableSeconds: 1500, BillableMinutes: 25, PatientSeen: true, Instances: 1,
		},
		Deliveries: workflows.Deliveries{
			Billing:  workflows.Delivery{Status: workflows.DeliverySent},
			FollowUp: workflows.Delivery{Status: workflows.DeliveryFailed, Error: "http 500"},
		},
	}
}

func afterServer(t *testing.T, f *afterSessions) (http.Handler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	h, err := api.New(api.Config{APIKeys: []string{testKey}, CreateWait: time.Second,
		DefaultDuration: 30}, f, slog.New(slog.NewJSONHandler(&logs, nil)))
	require.NoError(t, err)
	return h, &logs
}

func get(h http.Handler, path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("x-api-key", testKey)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestSummaryRoute(t *testing.T) {
	h, logs := afterServer(t, &afterSessions{state: finished(), notes: visitNotes})
	path := "/sessions/" + links.SessionID + "/summary"

	w := get(h, path)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Header().Get("Content-Type"), "application/json")
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	var body struct {
		Data workflows.Summary `json:"data"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	sum := body.Data
	assert.Equal(t, workflows.StatusCompleted, sum.Status)
	assert.Equal(t, 25, sum.BillableMinutes)
	assert.Equal(t, 180, sum.WaitSeconds)
	assert.Equal(t, visitNotes, sum.SOAP.Subjective)
	require.Len(t, sum.Deliveries, 2)
	assert.Equal(t, "followUp", sum.Deliveries[1].Name)
	assert.Equal(t, "http 500", sum.Deliveries[1].Error)

	for _, how := range [][]string{{path + "?format=text"},
		{path, "Accept", "text/plain"}} {
		w := get(h, how[0], how[1:]...)
		require.Equal(t, http.StatusOK, w.Code)
		assert.Contains(t, w.Header().Get("Content-Type"), "text/plain")
		assert.Contains(t, w.Body.String(), "Session summary "+links.SessionID)
		assert.Contains(t, w.Body.String(), "Billable:        25 min")
		assert.Contains(t, w.Body.String(), "  S: "+visitNotes)
	}

	w = get(h, path+"?format=xml")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "format must be json or text")

	assert.NotEmpty(t, logs.String(), "requests are logged")
	assert.NotContains(t, logs.String(), "dizziness", "the notes are never logged")
}

func TestAfterRoutesAnswerMissingAndUnavailable(t *testing.T) {
	for _, route := range []string{"summary", "attendance", "fhir"} {
		h, _ := afterServer(t, &afterSessions{state: finished()})
		w := get(h, "/sessions/SESSION-0000000000000-zzzzzz/"+route)
		assert.Equal(t, http.StatusNotFound, w.Code, route)

		h, _ = afterServer(t, &afterSessions{err: errors.New("boom")})
		w = get(h, "/sessions/"+links.SessionID+"/"+route)
		assert.Equal(t, http.StatusInternalServerError, w.Code, route)

		req := httptest.NewRequest(http.MethodGet, "/sessions/"+links.SessionID+"/"+route,
			nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, route)
	}
}

func TestAttendanceRoute(t *testing.T) {
	h, logs := afterServer(t, &afterSessions{state: finished(), notes: visitNotes})

	w := get(h, "/sessions/"+links.SessionID+"/attendance")

	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.NotContains(t, w.Body.String(), "dizziness", "no notes in attendance")
	var body struct {
		Data struct {
			PatientMasked   string                     `json:"patientMasked"`
			Roles           []workflows.RoleAttendance `json:"roles"`
			WaitingRoom     []workflows.Wait           `json:"waitingRoom"`
			WaitSeconds     int                        `json:"waitSeconds"`
			BillableMinutes int                        `json:"billableMinutes"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	d := body.Data
	assert.Equal(t, "S*** J***", d.PatientMasked)
	require.Len(t, d.Roles, 3)
	assert.Equal(t, workflows.RoleProvider, d.Roles[0].Role)
	assert.Equal(t, 32*60, d.Roles[0].Seconds)
	assert.Equal(t, workflows.RolePatient, d.Roles[1].Role)
	require.Len(t, d.Roles[1].Intervals, 1)
	assert.Equal(t, 25*60, d.Roles[1].Intervals[0].Seconds)
	assert.False(t, d.Roles[2].Present)
	require.Len(t, d.WaitingRoom, 1)
	assert.Equal(t, 180, d.WaitSeconds)
	assert.Equal(t, 25, d.BillableMinutes)
	assert.NotContains(t, logs.String(), "S*** J***", "not even the masked name is logged")
}

func TestFHIRRoute(t *testing.T) {
	h, _ := afterServer(t, &afterSessions{state: finished(), notes: visitNotes})

	w := get(h, "/sessions/"+links.SessionID+"/fhir")

	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "application/fhir+json; fhirVersion=4.0", w.Header().Get("Content-Type"))
	b, err := r4.UnmarshalBundle(w.Body.Bytes())
	require.NoError(t, err)
	assert.Equal(t, r4.BundleTypeCollection, b.Type)
	require.Len(t, b.Entry, 2)
	appt, err := r4.UnmarshalAppointment(b.Entry[0].Resource)
	require.NoError(t, err)
	assert.Equal(t, r4.AppointmentStatusFulfilled, appt.Status)
	enc, err := r4.UnmarshalEncounter(b.Entry[1].Resource)
	require.NoError(t, err)
	assert.Equal(t, r4.EncounterStatusFinished, enc.Status)
	assert.Equal(t, "VR", *enc.Class.Code)
	assert.Equal(t, *b.Entry[0].FullUrl, *enc.Appointment[0].Reference)
	assert.NotContains(t, w.Body.String(), "zak=", "never the provider's link")
	assert.NotContains(t, w.Body.String(), "dizziness")
}
