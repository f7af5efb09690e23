package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/telehealth/sessions/internal/session"
	"github.com/telehealth/sessions/internal/visits"
	"github.com/telehealth/sessions/workflows"
)

// Visits is what the live visit's routes need of the workflow engine. A Sessions that
// also implements it gets the webhook, reschedule, cancel and waiting-room routes.
type Visits interface {
	// SignalVisit delivers a platform event to its meeting's session, or returns
	// ErrUnknownMeeting.
	SignalVisit(ctx context.Context, e workflows.VisitEvent) error
	// Reschedule and Cancel send the updates to the session with the given id.
	// CancelBooking cancels by booking id: a booking without a session gets a
	// cancelled one.
	Reschedule(ctx context.Context, sessionID string,
		r workflows.RescheduleRequest) (workflows.State, error)
	Cancel(ctx context.Context, sessionID string, r workflows.CancelRequest,
		policy workflows.Policy) (workflows.State, error)
	CancelBooking(ctx context.Context, bookingID string, r workflows.CancelRequest,
		policy workflows.Policy) (workflows.State, error)
	// WaitingRoom lists the patients waiting for a provider, in arrival order.
	WaitingRoom(ctx context.Context, providerID string) ([]visits.Waiting, error)
	// Summary returns the session's summary (after.go), notes included.
	Summary(ctx context.Context, sessionID string) (workflows.Summary, error)
}

// ChangeError is a reschedule or cancel the session refused; Problems lists why.
type ChangeError struct{ Problems []string }

func (e *ChangeError) Error() string { return strings.Join(e.Problems, "; ") }

// ErrSessionOver answers a cancel for a booking whose session has already ended.
var ErrSessionOver = errors.New("session is over")

// zoomWebhookRoute is where Zoom posts its events.
const zoomWebhookRoute = "/webhooks/zoom"

// visitRoutes adds the live visit's routes when the engine serves them.
func (s *Server) visitRoutes(r *gin.Engine, authed *gin.RouterGroup) {
	if _, ok := s.sessions.(Visits); !ok {
		return
	}
	// Platforms sign their webhooks: no API key.
	r.POST(zoomWebhookRoute, s.zoomWebhook)
	authed.POST("/sessions/:id/reschedule", s.reschedule)
	authed.POST("/sessions/:id/cancel", s.cancel)
	authed.POST("/bookings/:booking_id/cancel", s.cancelBooking)
	authed.GET("/providers/:provider/waiting-room", s.waitingRoom)
}

// reschedule is POST /sessions/:id/reschedule with {scheduled_time, duration_minutes}.
func (s *Server) reschedule(c *gin.Context) {
	var body struct {
		ScheduledTime   *string `json:"scheduled_time"`
		DurationMinutes *int    `json:"duration_minutes"`
	}
	var problems []string
	problem, wrong, ok := s.readBody(c, &body, false)
	if !ok {
		return
	}
	if problem != "" {
		problems = append(problems, problem)
	}
	var req workflows.RescheduleRequest
	switch {
	case problem != "" && wrong == "", wrong == "scheduled_time":
	case body.ScheduledTime == nil:
		problems = append(problems, "scheduled_time is required")
	default:
		t, perr := time.Parse(time.RFC3339, *body.ScheduledTime)
		switch now := time.Now(); {
		case perr != nil:
			problems = append(problems, "scheduled_time must be RFC 3339 with an offset")
		case !t.After(now):
			problems = append(problems, "scheduled_time must be in the future")
		case t.After(now.Add(session.DefaultMaxAhead)):
			problems = append(problems, "scheduled_time must be within a year")
		}
		req.ScheduledStart = t.UTC()
	}
	if body.DurationMinutes != nil && wrong != "duration_minutes" {
		if d := *body.DurationMinutes; d < 15 || d > 120 {
			problems = append(problems, "duration_minutes must be from 15 to 120")
		}
		req.DurationMinutes = *body.DurationMinutes
	}
	if len(problems) > 0 {
		s.invalid(c, problems)
		return
	}
	state, err := s.sessions.(Visits).Reschedule(c.Request.Context(), c.Param("id"), req)
	s.changed(c, state, err)
}

// cancel is POST /sessions/:id/cancel with an optional {reason}.
func (s *Server) cancel(c *gin.Context) {
	if r, ok := s.cancelRequest(c, c.Param("id")); ok {
		state, err := s.sessions.(Visits).Cancel(c.Request.Context(), c.Param("id"), r,
			s.cfg.Policy)
		s.changed(c, state, err)
	}
}

// cancelBooking is POST /bookings/:booking_id/cancel: it cancels a booking's session,
// even one that does not exist yet (its create, when it comes, finds it cancelled).
func (s *Server) cancelBooking(c *gin.Context) {
	if r, ok := s.cancelRequest(c, c.Param("booking_id")); ok {
		state, err := s.sessions.(Visits).CancelBooking(c.Request.Context(),
			c.Param("booking_id"), r, s.cfg.Policy)
		s.changed(c, state, err)
	}
}

// readBody reads a small JSON object into v. It answers 413 itself for a body over
// MaxBodyBytes (ok false); otherwise it returns what is wrong with the body, if
// anything. An empty body is fine when optional.
// A field of the wrong type is named in field, so that its other checks are skipped.
func (s *Server) readBody(c *gin.Context, v any, optional bool) (problem, field string,
	ok bool) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if _, big := errors.AsType[*http.MaxBytesError](err); big {
		s.fail(c, http.StatusRequestEntityTooLarge, "Request body exceeds 64 KiB")
		return "", "", false
	}
	if err != nil {
		return "body could not be read", "", true
	}
	if optional && len(bytes.TrimSpace(raw)) == 0 {
		return "", "", true
	}
	err = json.Unmarshal(raw, v)
	if wrong, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && wrong.Field != "" {
		return wrong.Field + " has the wrong type", wrong.Field, true
	}
	if err != nil {
		return "body must be a JSON object", "", true
	}
	return "", "", true
}

// cancelRequest reads a cancel's optional {reason}, answering 400 with every problem.
func (s *Server) cancelRequest(c *gin.Context, id string) (workflows.CancelRequest, bool) {
	var body struct {
		Reason string `json:"reason"`
	}
	problem, _, ok := s.readBody(c, &body, true)
	if !ok {
		return workflows.CancelRequest{}, false
	}
	if problem != "" {
		s.invalid(c, []string{problem})
		return workflows.CancelRequest{}, false
	}
	var problems []string
	if n := utf8.RuneCountInString(id); n == 0 || n > 100 {
		problems = append(problems, "id must be 1-100 characters")
	}
	if !workflows.CancelReason(body.Reason).Valid() {
		problems = append(problems, "reason must be one of patient, provider, clinic, other")
	}
	if len(problems) > 0 {
		s.invalid(c, problems)
		return workflows.CancelRequest{}, false
	}
	return workflows.CancelRequest{Reason: workflows.CancelReason(body.Reason)}, true
}

func (s *Server) changed(c *gin.Context, state workflows.State, err error) {
	var change *ChangeError
	switch {
	case err == nil:
		c.JSON(http.StatusOK, gin.H{"success": true, "data": visitView(state)})
	case errors.Is(err, ErrNotFound):
		s.fail(c, http.StatusNotFound, "Session not found")
	case errors.As(err, &change):
		c.JSON(http.StatusConflict, gin.H{
			"success":           false,
			"error":             "The session cannot be changed: " + change.Error(),
			"validation_errors": change.Problems,
			"timestamp":         stamp(time.Now()),
		})
	case errors.Is(err, ErrSessionOver):
		s.fail(c, http.StatusConflict, "The session is over and cannot be cancelled.")
	case errors.Is(err, ErrMeetingFailed):
		s.logger.WarnContext(c, "meeting change failed", "error", err)
		s.fail(c, http.StatusBadGateway, "The video platform did not take the change.")
	default:
		s.internal(c, err)
	}
}

func (s *Server) invalid(c *gin.Context, problems []string) {
	c.JSON(http.StatusBadRequest, gin.H{
		"success":           false,
		"error":             "Validation failed: " + strings.Join(problems, "; "),
		"validation_errors": problems,
		"timestamp":         stamp(time.Now()),
	})
}

// waitingRoom is GET /providers/:provider/waiting-room. The provider is named by their
// email or by their key (prov-...).
func (s *Server) waitingRoom(c *gin.Context) {
	p := c.Param("provider")
	if !visits.ValidProvider(p) {
		p = workflows.ProviderKey(p)
	}
	room, err := s.sessions.(Visits).WaitingRoom(c.Request.Context(), p)
	if err != nil {
		s.internal(c, err)
		return
	}
	if room == nil {
		room = []visits.Waiting{}
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "data": gin.H{
		"provider_id": p,
		"waiting":     room,
	}})
}

// visitView is the state as the workflow's query reports it, with the snake_case
// names of the HTTP contract beside: session_id, booking_id, meeting_id, the
// attendance's times and durations.
func visitView(s workflows.State) map[string]any {
	view := map[string]any{}
	if b, err := json.Marshal(s); err == nil {
		_ = json.Unmarshal(b, &view)
	}
	att := s.Attendance
	view["session_id"] = s.SessionID
	view["booking_id"] = s.BookingID
	view["meeting_id"] = s.MeetingID
	view["scheduled_start"] = s.ScheduledStart
	view["duration_minutes"] = s.DurationMinutes
	view["actual_start"] = att.ActualStart
	view["actual_end"] = att.ActualEnd
	view["total_wait_seconds"] = att.TotalWaitSeconds
	view["billable_minutes"] = att.BillableMinutes
	view["no_show"] = s.NoShow
	return view
}

// SignalVisit delivers a platform event through the directory.
func (t *Temporal) SignalVisit(ctx context.Context, e workflows.VisitEvent) error {
	return t.directory().SignalVisit(ctx, e)
}

// WaitingRoom lists a provider's waiting room.
func (t *Temporal) WaitingRoom(ctx context.Context, providerID string) (
	[]visits.Waiting, error) {
	return t.directory().WaitingRoom(ctx, providerID, time.Now())
}

func (t *Temporal) directory() *visits.Directory {
	t.once.Do(t.prepare)
	return t.dir
}

// Reschedule sends the Reschedule update to the session's current run.
func (t *Temporal) Reschedule(ctx context.Context, sessionID string,
	r workflows.RescheduleRequest) (workflows.State, error) {
	id, err := t.workflowOf(ctx, sessionID)
	if err != nil {
		return workflows.State{}, err
	}
	return t.update(ctx, id, workflows.RescheduleUpdate, r)
}

// Cancel sends the Cancel update to the session with the given id; an unknown id is
// ErrNotFound.
func (t *Temporal) Cancel(ctx context.Context, sessionID string, r workflows.CancelRequest,
	_ workflows.Policy) (workflows.State, error) {
	wid, err := t.workflowOf(ctx, sessionID)
	if err != nil {
		return workflows.State{}, err
	}
	return t.update(ctx, wid, workflows.CancelUpdate, r)
}

// CancelBooking sends the Cancel update to a booking's session with update-with-start:
// a booking whose session does not exist yet gets one that is cancelled, and its
// create, when it comes, finds it so.
func (t *Temporal) CancelBooking(ctx context.Context, id string, r workflows.CancelRequest,
	policy workflows.Policy) (workflows.State, error) {
	in := workflows.SessionInput{CancelOnly: true, Policy: policy}
	in.Booking.BookingID = id
	wid := workflows.WorkflowID(id)
	start := t.withStart(wid, in)
	h, err := t.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   workflows.CancelUpdate,
			Args:         []any{r},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if _, ok := errors.AsType[*serviceerror.WorkflowExecutionAlreadyStarted](err); ok {
		state, qerr := t.query(ctx, wid, "")
		if qerr != nil {
			return workflows.State{}, qerr
		}
		if state.Status == workflows.StatusCancelled {
			return state, nil
		}
		return state, ErrSessionOver
	}
	var state workflows.State
	if err == nil {
		err = h.Get(ctx, &state)
	}
	return state, changeError(err)
}

// workflowOf finds the workflow of a session id through the visibility store alone.
func (t *Temporal) workflowOf(ctx context.Context, sessionID string) (string, error) {
	exec, err := t.find(ctx, sessionID)
	if err != nil {
		return "", err
	}
	return exec.WorkflowId, nil
}

func (t *Temporal) update(ctx context.Context, workflowID, name string,
	arg any) (workflows.State, error) {
	h, err := t.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if _, ok := errors.AsType[*serviceerror.NotFound](err); ok {
		return workflows.State{}, &ChangeError{Problems: []string{"the session is over"}}
	}
	var state workflows.State
	if err == nil {
		err = h.Get(ctx, &state)
	}
	return state, changeError(err)
}

// changeError maps the workflow's refusals onto the API's outcomes.
func changeError(err error) error {
	if err == nil {
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case workflows.ErrTypeInvalidChange:
			var problems []string
			if app.HasDetails() && app.Details(&problems) == nil && len(problems) > 0 {
				return &ChangeError{Problems: problems}
			}
			return &ChangeError{Problems: []string{app.Message()}}
		case workflows.ErrTypeMeetingFailed:
			return fmt.Errorf("%w: %s", ErrMeetingFailed, app.Message())
		}
	}
	return fmt.Errorf("change session: %w", err)
}
