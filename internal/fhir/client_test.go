package fhir_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/fhir"
	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/internal/integrations/vendortest"
	"github.com/telehealth/sessions/workflows"
)

const ehrToken = "ehr-token-123"

func record(t *testing.T, s workflows.State) activities.EHRRecord {
	t.Helper()
	visit, err := json.Marshal(s)
	require.NoError(t, err)
	return activities.EHRRecord{SessionID: s.SessionID, Visit: visit}
}

func ehrClient(srv *vendortest.FHIR, timeout time.Duration) *fhir.Client {
	return &fhir.Client{BaseURL: srv.URL() + "/", Token: ehrToken,
		HTTP: &http.Client{Timeout: timeout}}
}

// TestExportIsAConditionalUpdate sends a normal visit twice: each resource is PUT on
// the session identifier with the bearer token and the FHIR media type; the server
// creates each once and updates it the second time.
func TestExportIsAConditionalUpdate(t *testing.T) {
	srv := vendortest.NewFHIR(t, ehrToken)
	c := ehrClient(srv, 5*time.Second)
	s := normal()
	ctx := context.Background()

	require.NoError(t, c.Export(ctx, record(t, s)))
	require.NoError(t, c.Export(ctx, record(t, s)))

	reqs := srv.Requests()
	require.Len(t, reqs, 4)
	ident := fhir.SessionIDSystem + "|" + s.SessionID
	for i, r := range reqs {
		assert.Equal(t, http.MethodPut, r.Method)
		assert.Equal(t, []string{"/Appointment", "/Encounter"}[i%2], r.Path)
		q, err := url.ParseQuery(r.Query)
		require.NoError(t, err)
		assert.Equal(t, url.Values{"identifier": {ident}}, q)
		assert.Equal(t, "Bearer "+ehrToken, r.Header.Get("Authorization"))
		assert.Equal(t, "application/fhir+json", r.Header.Get("Content-Type"))
	}
	assert.Equal(t, 2, srv.Version("Appointment", ident), "created, then updated")
	assert.Equal(t, 2, srv.Version("Encounter", ident), "created, then updated")
	require.Len(t, srv.Resources("Appointment"), 1)
	require.Len(t, srv.Resources("Encounter"), 1)

	// The resources round-trip through the model types and say what the visit was.
	var appt r4.Appointment
	require.NoError(t, json.Unmarshal(reqs[2].Body, &appt))
	assert.Equal(t, r4.AppointmentStatusFulfilled, appt.Status)
	require.Len(t, appt.Identifier, 1)
	assert.Equal(t, s.SessionID, *appt.Identifier[0].Value)
	var enc r4.Encounter
	require.NoError(t, json.Unmarshal(reqs[3].Body, &enc))
	assert.Equal(t, r4.EncounterStatusFinished, enc.Status)
	assert.Equal(t, "VR", *enc.Class.Code)
	require.Len(t, enc.Appointment, 1)
	assert.Nil(t, enc.Appointment[0].Reference, "no Bundle-local urn:uuid on the server")
	require.NotNil(t, enc.Appointment[0].Identifier)
	assert.Equal(t, fhir.SessionIDSystem, *enc.Appointment[0].Identifier.System)
	assert.Equal(t, s.SessionID, *enc.Appointment[0].Identifier.Value)

	// Nothing of the provider's start link reaches the EHR.
	for _, r := range reqs {
		assert.NotContains(t, string(r.Body), "zak=")
	}
}

// TestExportRejectedIsPermanent: a 422 OperationOutcome is no retry, and its text
// (which may quote the patient) stays out of the error.
func TestExportRejectedIsPermanent(t *testing.T) {
	srv := vendortest.NewFHIR(t, ehrToken)
	oo, err := json.Marshal(vendortest.OperationOutcome("business-rule",
		"Patient Sarah Johnson already has an encounter"))
	require.NoError(t, err)
	srv.Inject(vendortest.Fault{Status: http.StatusUnprocessableEntity, Body: string(oo)})

	err = ehrClient(srv, 5*time.Second).Export(context.Background(), record(t, normal()))
	verr, ok := errors.AsType[*vendor.Error](err)
	require.True(t, ok, "got %v", err)
	assert.False(t, verr.Retryable)
	assert.Equal(t, http.StatusUnprocessableEntity, verr.Status)
	assert.NotContains(t, err.Error(), "Sarah")
	assert.NotContains(t, err.Error(), "Johnson")
	assert.Len(t, srv.Requests(), 1, "the Encounter waits for the Appointment")

	// Through the activity it is a non-retryable application error.
	acts := &activities.Activities{EHR: ehrClient(srv, 5*time.Second)}
	srv.Inject(vendortest.Fault{Status: http.StatusUnprocessableEntity, Body: string(oo)})
	err = acts.SendToEHR(context.Background(), record(t, normal()))
	appErr, ok := errors.AsType[*temporal.ApplicationError](err)
	require.True(t, ok, "got %v", err)
	assert.True(t, appErr.NonRetryable())
	assert.NotContains(t, appErr.Error(), "Sarah")
}

// TestExportStatusClasses: 408, 429 and 5xx are retryable, other 4xx are not.
func TestExportStatusClasses(t *testing.T) {
	for status, retryable := range map[int]bool{400: false, 401: false, 404: false,
		412: false, 408: true, 429: true, 500: true, 503: true} {
		srv := vendortest.NewFHIR(t, ehrToken)
		srv.Inject(vendortest.Fault{Status: status})
		err := ehrClient(srv, 5*time.Second).Export(context.Background(),
			record(t, normal()))
		verr, ok := errors.AsType[*vendor.Error](err)
		require.True(t, ok, "%d: got %v", status, err)
		assert.Equal(t, retryable, verr.Retryable, "status %d", status)
	}
}

// TestExportBusyThenAccepted: a 503 with Retry-After is retryable after the asked
// wait; the retry lands one Appointment and one Encounter.
func TestExportBusyThenAccepted(t *testing.T) {
	srv := vendortest.NewFHIR(t, ehrToken)
	srv.Inject(vendortest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "7"})
	c := ehrClient(srv, 5*time.Second)
	rec := record(t, normal())

	err := c.Export(context.Background(), rec)
	verr, ok := errors.AsType[*vendor.Error](err)
	require.True(t, ok, "got %v", err)
	assert.True(t, verr.Retryable)
	assert.Equal(t, 7*time.Second, verr.RetryAfter)

	acts := &activities.Activities{EHR: c}
	srv.Inject(vendortest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "3"})
	err = acts.SendToEHR(context.Background(), rec)
	appErr, ok := errors.AsType[*temporal.ApplicationError](err)
	require.True(t, ok, "got %v", err)
	assert.False(t, appErr.NonRetryable())
	assert.Equal(t, 3*time.Second, appErr.NextRetryDelay())

	require.NoError(t, c.Export(context.Background(), rec))
	assert.Len(t, srv.Resources("Appointment"), 1)
	assert.Len(t, srv.Resources("Encounter"), 1)
}

// TestExportTimeout: no answer in time is retryable, and the error names no URL.
func TestExportTimeout(t *testing.T) {
	srv := vendortest.NewFHIR(t, ehrToken)
	srv.Inject(vendortest.Fault{Status: http.StatusOK, Delay: 2 * time.Second})

	err := ehrClient(srv, 100*time.Millisecond).Export(context.Background(),
		record(t, normal()))
	verr, ok := errors.AsType[*vendor.Error](err)
	require.True(t, ok, "got %v", err)
	assert.True(t, verr.Retryable)
	assert.Equal(t, "timeout", verr.Detail)
	assert.False(t, strings.Contains(err.Error(), srv.URL()))
}

// TestExportEndStates: a no-show and a cancelled visit go as such.
func TestExportEndStates(t *testing.T) {
	for _, tc := range []struct {
		s    workflows.State
		appt r4.AppointmentStatus
	}{{noShow(), r4.AppointmentStatusNoshow}, {cancelled(), r4.AppointmentStatusCancelled}} {
		srv := vendortest.NewFHIR(t, ehrToken)
		require.NoError(t, ehrClient(srv, 5*time.Second).Export(context.Background(),
			record(t, tc.s)))
		reqs := srv.Requests()
		require.Len(t, reqs, 2)
		var appt r4.Appointment
		require.NoError(t, json.Unmarshal(reqs[0].Body, &appt))
		assert.Equal(t, tc.appt, appt.Status)
		var enc r4.Encounter
		require.NoError(t, json.Unmarshal(reqs[1].Body, &enc))
		assert.Equal(t, r4.EncounterStatusCancelled, enc.Status)
	}
}

// TestSendToEHRWithoutClient: a worker without an EHR fails the delivery for good
// instead of calling it sent.
func TestSendToEHRWithoutClient(t *testing.T) {
	err := (&activities.Activities{}).SendToEHR(context.Background(), record(t, normal()))
	appErr, ok := errors.AsType[*temporal.ApplicationError](err)
	require.True(t, ok, "got %v", err)
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Error(), "FHIR_BASE_URL")
}
