package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/app"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/fhir"
	"github.com/telehealth/sessions/internal/integrations/vendortest"
	"github.com/telehealth/sessions/internal/session"
	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/workflows"
)

const (
	sheetID    = "1SessionsSheetForTests"
	sgKey      = "SG.integration-key"
	twilioSID  = "AC0123456789abcdef0123456789abcdef"
	twilioAuth = "0123456789abcdef0123456789abcdef"
	ehrToken   = "ehr-integration-token"
)

var (
	triggerSecret = strings.Repeat("t", 32)
	triggerKey    = strings.Repeat("k", 32)
)

// vendors is every vendor, served locally.
type vendors struct {
	google   *vendortest.Google
	sendgrid *vendortest.SendGrid
	twilio   *vendortest.Twilio
	slack    *vendortest.Webhook
	billing  *vendortest.Webhook
	followUp *vendortest.Webhook
	ehr      *vendortest.FHIR
}

// startVendors starts the local vendors and returns the variables that point the
// service at them: a configuration change and nothing else.
func startVendors(t *testing.T) (*vendors, map[string]string) {
	v := &vendors{
		google:   vendortest.NewGoogle(t, sheetID, map[string][]string{"Sessions": nil}),
		sendgrid: vendortest.NewSendGrid(t, sgKey),
		twilio:   vendortest.NewTwilio(t, twilioSID, twilioAuth),
		slack:    vendortest.NewSlack(t),
		billing:  vendortest.NewBilling(t, triggerKey, []byte(triggerSecret)),
		followUp: vendortest.NewFollowUp(t, triggerKey, []byte(triggerSecret)),
		ehr:      vendortest.NewFHIR(t, ehrToken),
	}
	return v, map[string]string{
		"GOOGLE_APPLICATION_CREDENTIALS": v.google.CredentialsFile(t),
		"GOOGLE_SHEET_ID":                sheetID,
		"SHEETS_API_URL":                 v.google.URL(),
		"SENDGRID_API_KEY":               sgKey,
		"SENDGRID_FROM_EMAIL":            "visits@clinic.example",
		"SENDGRID_API_URL":               v.sendgrid.URL(),
		"TWILIO_ACCOUNT_SID":             twilioSID,
		"TWILIO_AUTH_TOKEN":              twilioAuth,
		"TWILIO_FROM_NUMBER":             "+15550001111",
		"TWILIO_API_URL":                 v.twilio.URL(),
		"NOTIFICATION_WEBHOOK_URL":       v.slack.URL() + v.slack.Path(),
		"BILLING_WEBHOOK_URL":            v.billing.URL() + v.billing.Path(),
		"FOLLOWUP_WEBHOOK_URL":           v.followUp.URL() + v.followUp.Path(),
		"TRIGGER_API_KEY":                triggerKey,
		"TRIGGER_SIGNING_SECRET":         triggerSecret,
		"SESSION_FEE_CENTS":              "7500",
		"CLINIC_NAME":                    "Hillside Clinic",
		"CLINIC_PHONE":                   "+1-555-0100",
		"VENDOR_TIMEOUT":                 "2s",
		"FHIR_BASE_URL":                  v.ehr.URL() + "/fhir/R4",
		"FHIR_BEARER_TOKEN":              ehrToken,
	}
}

// TestEveryVendorOnTheDevServer books a session through the API on the real dev server
// with every vendor configured: the fan-out reaches each vendor, and a delivery that
// fails for good (a landline) shows in the session view without failing the session.
func TestEveryVendorOnTheDevServer(t *testing.T) {
	v, vars := startVendors(t)
	s := startStack(t, vars)
	body := strings.Replace(booking(uniqueID("VENDORS"), time.Now().Add(2*time.Hour), 30),
		"+1 555 123 4567", "+1 555 010 0999", 1) // a landline: Twilio's 21614

	code, resp := s.post(t, body)
	require.Equal(t, http.StatusOK, code, resp)
	sessionID := resp["data"].(map[string]any)["session_id"].(string)

	var deliveries map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body := s.get(t, "/sessions/"+sessionID)
		if !assert.Equal(c, http.StatusOK, code) {
			return
		}
		deliveries = body["data"].(map[string]any)["deliveries"].(map[string]any)
		for _, d := range []string{"sessionLog", "patientEmail", "staffNotice"} {
			assert.Equal(c, "sent", deliveries[d].(map[string]any)["status"], d)
		}
		assert.Equal(c, "failed", deliveries["patientSms"].(map[string]any)["status"])
	}, 20*time.Second, 200*time.Millisecond)

	sms := deliveries["patientSms"].(map[string]any)
	assert.Contains(t, sms["error"], "code 21614")
	assert.NotContains(t, sms["error"], "0999", "no phone number in the recorded failure")
	_, status := s.get(t, "/sessions/"+sessionID)
	assert.Equal(t, "SCHEDULED", status["data"].(map[string]any)["status"],
		"a failed side effect never fails the session")

	rows := v.google.Rows(sheetID, "Sessions")
	require.Len(t, rows, 2, "header and the session's row")
	assert.Equal(t, sessionID, rows[1][1])
	mails := v.sendgrid.Sent()
	require.Len(t, mails, 1)
	assert.Equal(t, "sarah.johnson@example.com", mails[0].To())
	assert.Contains(t, mails[0].Part("text/plain"), resp["data"].(map[string]any)["meeting_url"])
	assert.Empty(t, v.twilio.Sent())
	assertNoPHI(t, v.slack.Posts(), resp)
}

// assertNoPHI checks staff posts: masked data, and neither link.
func assertNoPHI(t *testing.T, posts [][]byte, resp map[string]any) {
	t.Helper()
	require.NotEmpty(t, posts)
	data := resp["data"].(map[string]any)
	for _, p := range posts {
		text := string(p)
		for _, phi := range []string{"sarah.johnson@example.com", "Sarah", "Johnson",
			"5551234567", data["meeting_url"].(string), data["provider_url"].(string),
			"zak=", "pwd="} {
			assert.NotContains(t, text, phi)
		}
	}
	assert.Contains(t, string(posts[0]), "s***n@example.com")
}

// stamped records, in workflow time, when each trigger reached its vendor.
type stamped struct {
	activities.Triggers
	env *testsuite.TestWorkflowEnvironment
	mu  sync.Mutex
	at  map[string]time.Time
}

func (s *stamped) stamp(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at[name] = s.env.Now()
}

func (s *stamped) TriggerBilling(ctx context.Context, r activities.BillingRequest) error {
	err := s.Triggers.TriggerBilling(ctx, r)
	if err == nil {
		s.stamp("billing")
	}
	return err
}

func (s *stamped) TriggerFollowUp(ctx context.Context, r activities.FollowUpRequest) error {
	err := s.Triggers.TriggerFollowUp(ctx, r)
	if err == nil {
		s.stamp("followup")
	}
	return err
}

// TestFullLifecycleWithEveryVendor runs a whole session, time-skipped, with the real
// activities that NewActivities wires against every local vendor: one Sheets row,
// updated and never duplicated across a lost answer and its retry; one patient email;
// one SMS; a staff notice with no unmasked PHI; billing after the end; follow-up 24
// hours later.
func TestFullLifecycleWithEveryVendor(t *testing.T) {
	v, vars := startVendors(t)
	sb, err := sandbox.New(sandbox.Options{AccountID: "a", ClientID: "c", ClientSecret: "s"})
	require.NoError(t, err)
	platform := httptest.NewServer(sb)
	t.Cleanup(platform.Close)
	for k, val := range map[string]string{
		"DATA_DIR": t.TempDir(), "VIDEO_PLATFORM": "zoom",
		"VIDEO_PLATFORM_API_URL": platform.URL + "/v2",
		"ZOOM_OAUTH_URL":         platform.URL + "/oauth/token",
		"ZOOM_ACCOUNT_ID":        "a", "ZOOM_CLIENT_ID": "c", "ZOOM_CLIENT_SECRET": "s",
		"ZOOM_USER_ID": "dr@clinic.example",
	} {
		vars[k] = val
	}
	cfg, err := config.FromMap(vars)
	require.NoError(t, err)
	acts, stop, err := app.NewActivities(t.Context(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(stop)

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	start := time.Now().UTC().Truncate(time.Second)
	env.SetStartTime(start)
	env.SetWorkerOptions(worker.Options{})
	spy := &stamped{Triggers: acts.Triggers, env: env, at: map[string]time.Time{}}
	acts.Triggers = spy
	env.RegisterActivity(acts)
	env.RegisterWorkflowWithOptions(workflows.SessionLifecycle,
		workflow.RegisterOptions{Name: "SessionLifecycle"})

	// Sheets' answer to the first append is lost after the row was written: read the
	// header, write it, read the ids, then the append.
	v.google.Inject(vendortest.Fault{}, vendortest.Fault{}, vendortest.Fault{},
		vendortest.Fault{Status: 503, Accept: true})
	scheduled := start.Add(time.Hour)
	// The visit: the provider opens the meeting at the start, the patient joins, and
	// the meeting ends 30 minutes later.
	for _, e := range []struct {
		typ workflows.EventType
		who *workflows.Participant
		off time.Duration
	}{
		{workflows.EventMeetingStarted, nil, 0},
		{workflows.EventJoined, &workflows.Participant{ID: "host", Host: true}, 0},
		{workflows.EventJoined, &workflows.Participant{ID: "patient"}, time.Minute},
		{workflows.EventMeetingEnded, nil, 30 * time.Minute},
	} {
		ev := workflows.VisitEvent{Key: string(e.typ) + e.off.String(), Type: e.typ,
			At: scheduled.Add(e.off), MeetingID: "", Participant: e.who}
		env.RegisterDelayedCallback(func() {
			var s workflows.State
			v, err := env.QueryWorkflow(workflows.SessionQuery)
			require.NoError(t, err)
			require.NoError(t, v.Get(&s))
			ev.MeetingID = s.MeetingID
			env.SignalWorkflow(workflows.VisitEventSignal, ev)
		}, time.Hour+e.off)
	}
	env.ExecuteWorkflow(workflows.SessionLifecycle, workflows.SessionInput{
		Booking: session.Booking{
			BookingID: "BOOK-LIFECYCLE", PatientEmail: "sarah.johnson@example.com",
			PatientName: "Sarah Johnson", PatientPhone: "+15551234567",
			ProviderName: "Dr. Smith", ProviderEmail: "dr.smith@clinic.example",
			ScheduledStart: scheduled, DurationMinutes: 30,
		},
		ClientIP: "203.0.113.9",
		Policy: workflows.Policy{BufferMinutes: 5, FollowUpDelay: 24 * time.Hour,
			SessionFeeCents: 7500, PastTolerance: 5 * time.Minute,
			Visit: app.APIConfig(cfg).Policy.Visit}, // the EHR export is on
	})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var state workflows.State
	require.NoError(t, env.GetWorkflowResult(&state))
	assert.Equal(t, workflows.StatusCompleted, state.Status)

	rows := v.google.Rows(sheetID, "Sessions")
	require.Len(t, rows, 2, "one row, updated, not duplicated: %v", rows)
	assert.Equal(t, state.SessionID, rows[1][1])
	assert.Equal(t, "COMPLETED", rows[1][13])
	appends := 0
	for _, r := range v.google.Requests() {
		if strings.HasSuffix(r.Path, ":append") {
			appends++
		}
	}
	assert.Equal(t, 1, appends, "the retry found the row the lost answer had written")

	mails := v.sendgrid.Sent()
	require.Len(t, mails, 2, "one patient email, one provider email")
	var patientMail, providerMail vendortest.SGMail
	for _, m := range mails {
		switch m.To() {
		case "sarah.johnson@example.com":
			patientMail = m
		case "dr.smith@clinic.example":
			providerMail = m
		}
	}
	assert.Contains(t, patientMail.Part("text/plain"), state.MeetingURL)
	assert.NotEmpty(t, patientMail.Part("text/html"))
	assert.Contains(t, providerMail.Part("text/plain"), state.ProviderURL)
	assert.NotContains(t, providerMail.Part("text/plain"), "Sarah Johnson")

	sms := v.twilio.Sent()
	require.Len(t, sms, 1, "one SMS")
	assert.Equal(t, "+15551234567", sms[0].Get("To"))

	posts := v.slack.Posts()
	require.Len(t, posts, 1, "one staff notice")
	assertNoPHI(t, posts, map[string]any{"data": map[string]any{
		"meeting_url": state.MeetingURL, "provider_url": state.ProviderURL}})

	require.Len(t, v.billing.Posts(), 1, "one billing trigger")
	var bill map[string]any
	require.NoError(t, json.Unmarshal(v.billing.Posts()[0], &bill))
	assert.Equal(t, 7500.0, bill["amount"])
	assert.Equal(t, "sarah.johnson@example.com", bill["customer_email"])
	require.Len(t, v.followUp.Posts(), 1, "one follow-up trigger")

	// The EHR holds one Appointment and one Encounter, PUT on the session identifier.
	ident := fhir.SessionIDSystem + "|" + state.SessionID
	require.Len(t, v.ehr.Resources("Appointment"), 1)
	require.Len(t, v.ehr.Resources("Encounter"), 1)
	assert.Equal(t, "fulfilled", v.ehr.Resources("Appointment")[ident]["status"])
	assert.Equal(t, "finished", v.ehr.Resources("Encounter")[ident]["status"])
	for _, r := range v.ehr.Requests() {
		assert.Equal(t, "Bearer "+ehrToken, r.Header.Get("Authorization"))
		assert.NotContains(t, string(r.Body), "Sarah Johnson")
	}

	end := scheduled.Add(30 * time.Minute)
	assert.False(t, spy.at["billing"].Before(end), "billing after the end")
	assert.Equal(t, 29.0, bill["session_duration"], "billed on the real duration")
	assert.Equal(t, 24*time.Hour, spy.at["followup"].Sub(spy.at["billing"]).Round(time.Minute),
		"follow-up 24 hours later")
}

// followUpCampaign stands for M05's workflow: it takes one trigger signal and ends.
func followUpCampaign(ctx workflow.Context) (map[string]any, error) {
	var got map[string]any
	workflow.GetSignalChannel(ctx, "FollowUpDue").Receive(ctx, &got)
	return got, nil
}

// TestFollowUpBySignalWithStart hands the follow-up to a workflow on the same cluster:
// the trigger starts it with its signal, and a retry after it has finished starts
// nothing new.
func TestFollowUpBySignalWithStart(t *testing.T) {
	queue := uniqueID("m05")
	w := worker.New(temporalClient, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(followUpCampaign,
		workflow.RegisterOptions{Name: "FollowUpCampaign"})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	cfg, err := config.FromMap(map[string]string{
		"DATA_DIR":               t.TempDir(),
		"SANDBOX_ADDR":           "127.0.0.1:0",
		"FOLLOWUP_WORKFLOW_TYPE": "FollowUpCampaign",
		"FOLLOWUP_TASK_QUEUE":    queue,
	})
	require.NoError(t, err)
	_, _, err = app.NewActivities(t.Context(), cfg, slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "needs a Temporal client")
	acts, stop, err := app.NewActivities(t.Context(), cfg, slog.New(slog.DiscardHandler),
		app.WithTemporal(temporalClient))
	require.NoError(t, err)
	t.Cleanup(stop)

	sessionID := "SESSION-" + uniqueID("sws")
	req := activities.FollowUpRequest{SessionID: sessionID, BookingID: "BOOK-1",
		PatientEmail: "sarah.johnson@example.com", VisitDate: time.Now()}
	require.NoError(t, acts.Triggers.TriggerFollowUp(t.Context(), req))

	run := temporalClient.GetWorkflow(t.Context(), sessionID+"-followup", "")
	var got map[string]any
	require.NoError(t, run.Get(t.Context(), &got))
	assert.Equal(t, "followup", got["campaign_type"])
	assert.Equal(t, sessionID+"-followup", got["idempotency_key"])

	runID := func() string {
		d, err := temporalClient.DescribeWorkflowExecution(t.Context(),
			sessionID+"-followup", "")
		require.NoError(t, err)
		return d.WorkflowExecutionInfo.Execution.RunId
	}
	first := runID()
	require.NotEmpty(t, first)
	require.NoError(t, acts.Triggers.TriggerFollowUp(t.Context(), req), "a retry")
	assert.Equal(t, first, runID(), "no second campaign")
}
