package workflows_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/fhir"
	"github.com/telehealth/sessions/internal/integrations/vendortest"
	"github.com/telehealth/sessions/workflows"
)

// ehrEnv is newEnv with the EHR export going, through the real FHIR client, to a
// local FHIR server.
func ehrEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *calls, *vendortest.FHIR) {
	env, c := newEnv()
	srv := vendortest.NewFHIR(t, "tok")
	ehr := &activities.Activities{EHR: &fhir.Client{BaseURL: srv.URL(), Token: "tok",
		HTTP: &http.Client{Timeout: 5 * time.Second}}}
	env.OnActivity(acts.SendToEHR, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, r activities.EHRRecord) error {
			c.arg(env, "SendToEHR", r)
			return ehr.SendToEHR(ctx, r)
		}).Maybe()
	return env, c, srv
}

func ehrInput() workflows.SessionInput {
	in := input()
	in.Policy.Visit.EHRExport = true
	return in
}

// TestEHRExportAfterNormalVisit: the visit goes to the EHR once, when it ends (after
// billing), as a fulfilled Appointment and a finished Encounter. The server's first
// answer is lost after it stored the resource: the retry updates it, and the server
// still holds one of each.
func TestEHRExportAfterNormalVisit(t *testing.T) {
	env, c, srv := ehrEnv(t)
	srv.Inject(vendortest.Fault{Status: http.StatusServiceUnavailable, Accept: true})
	playVisit(env, normalVisit())

	env.ExecuteWorkflow(workflows.SessionLifecycle, ehrInput())

	s := result(t, env)
	assert.Equal(t, workflows.StatusCompleted, s.Status)
	require.Len(t, c.at["SendToEHR"], 2, "one call, retried once")
	// The meeting ended at +30m; the visit closes after the rejoin grace, with billing.
	require.Len(t, c.at["TriggerBilling"], 1)
	assert.Equal(t, at(30*time.Minute+workflows.DefaultRejoinGrace), c.at["SendToEHR"][0])
	assert.Equal(t, c.at["TriggerBilling"][0], c.at["SendToEHR"][0])
	assert.Equal(t, workflows.DeliverySent, s.Deliveries.EHR.Status)

	appts, encs := srv.Resources("Appointment"), srv.Resources("Encounter")
	require.Len(t, appts, 1)
	require.Len(t, encs, 1)
	ident := fhir.SessionIDSystem + "|" + s.SessionID
	assert.Equal(t, "fulfilled", appts[ident]["status"])
	assert.Equal(t, "finished", encs[ident]["status"])
	assert.Equal(t, 2, srv.Version("Appointment", ident), "created, then updated")

	// The record holds the masked name only, and no provider link.
	rec := string(c.args["SendToEHR"][0].(activities.EHRRecord).Visit)
	assert.NotContains(t, rec, "Sarah")
	assert.NotContains(t, rec, "zak=")
	assert.NotContains(t, rec, "sarah.johnson@")
}

// TestEHRExportAfterNoShowAndCancel: the other two end states go too, once each.
func TestEHRExportAfterNoShowAndCancel(t *testing.T) {
	t.Run("no-show", func(t *testing.T) {
		env, c, srv := ehrEnv(t)
		env.ExecuteWorkflow(workflows.SessionLifecycle, ehrInput())

		s := result(t, env)
		assert.Equal(t, workflows.StatusNoShow, s.Status)
		require.Len(t, c.at["SendToEHR"], 1)
		assert.Equal(t, at(workflows.DefaultNoShowGrace), c.at["SendToEHR"][0])
		ident := fhir.SessionIDSystem + "|" + s.SessionID
		assert.Equal(t, "noshow", srv.Resources("Appointment")[ident]["status"])
	})
	t.Run("cancelled", func(t *testing.T) {
		env, c, srv := ehrEnv(t)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.CancelUpdate, "cancel-1",
				&testsuite.TestUpdateCallback{OnReject: func(err error) {
					t.Errorf("rejected: %v", err)
				}, OnAccept: func() {}, OnComplete: func(any, error) {}},
				workflows.CancelRequest{Reason: workflows.CancelByClinic})
		}, 30*time.Minute)
		env.ExecuteWorkflow(workflows.SessionLifecycle, ehrInput())

		s := result(t, env)
		assert.Equal(t, workflows.StatusCancelled, s.Status)
		require.Len(t, c.at["SendToEHR"], 1)
		ident := fhir.SessionIDSystem + "|" + s.SessionID
		assert.Equal(t, "cancelled", srv.Resources("Appointment")[ident]["status"])
		assert.Equal(t, "cancelled", srv.Resources("Encounter")[ident]["status"])
	})
}

// TestEHRExportSkippedWhenNotConfigured: without an EHR the activity is never called
// and the delivery says skipped.
func TestEHRExportSkippedWhenNotConfigured(t *testing.T) {
	env, c, srv := ehrEnv(t)
	playVisit(env, normalVisit())

	env.ExecuteWorkflow(workflows.SessionLifecycle, input())

	s := result(t, env)
	assert.Equal(t, workflows.StatusCompleted, s.Status)
	assert.Empty(t, c.at["SendToEHR"])
	assert.Empty(t, srv.Requests())
	assert.Equal(t, workflows.DeliverySkipped, s.Deliveries.EHR.Status)
}
