package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/telehealth/sessions/internal/fhir"
	"github.com/telehealth/sessions/workflows"
)

// fhirJSON is the media type of FHIR R4 resources in JSON.
const fhirJSON = "application/fhir+json; fhirVersion=4.0"

// afterRoutes adds the routes that read a session after (or during) its visit: the
// summary, the attendance and the FHIR Bundle. They come with the live visit.
func (s *Server) afterRoutes(authed *gin.RouterGroup) {
	if _, ok := s.sessions.(Visits); !ok {
		return
	}
	authed.GET("/sessions/:id/summary", s.summary)
	authed.GET("/sessions/:id/attendance", s.attendance)
	authed.GET("/sessions/:id/fhir", s.fhirBundle)
}

// summary is GET /sessions/:id/summary: JSON, or plain text with ?format=text or
// Accept: text/plain. It carries the provider's pre-session notes (PHI): nothing of it
// is logged.
func (s *Server) summary(c *gin.Context) {
	text := false
	switch c.Query("format") {
	case "text":
		text = true
	case "json":
	case "":
		text = c.NegotiateFormat(gin.MIMEJSON, gin.MIMEPlain) == gin.MIMEPlain
	default:
		s.invalid(c, []string{"format must be json or text"})
		return
	}
	sum, err := s.sessions.(Visits).Summary(c.Request.Context(), c.Param("id"))
	if !s.found(c, err) {
		return
	}
	c.Header("Cache-Control", "no-store")
	if text {
		c.String(http.StatusOK, sum.Text())
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "data": sum})
}

// attendanceView is a session's attendance as GET /sessions/:id/attendance shows it.
type attendanceView struct {
	SessionID       string                     `json:"sessionId"`
	Status          workflows.Status           `json:"status"`
	PatientMasked   string                     `json:"patientMasked,omitempty"`
	ProviderID      string                     `json:"providerId,omitempty"`
	ActualStart     *time.Time                 `json:"actualStart,omitempty"`
	ActualEnd       *time.Time                 `json:"actualEnd,omitempty"`
	Roles           []workflows.RoleAttendance `json:"roles"`
	WaitingRoom     []workflows.Wait           `json:"waitingRoom"`
	WaitSeconds     int                        `json:"waitSeconds"`
	BillableSeconds int                        `json:"billableSeconds"`
	BillableMinutes int                        `json:"billableMinutes"`
	NoShow          bool                       `json:"noShow"`
	AsOf            time.Time                  `json:"asOf"`
}

// attendance is GET /sessions/:id/attendance: who was there, by role, when and how
// long. The patient is named masked only.
func (s *Server) attendance(c *gin.Context) {
	state, err := s.sessions.Get(c.Request.Context(), c.Param("id"))
	if !s.found(c, err) {
		return
	}
	sum := workflows.BuildSummary(state, "")
	c.JSON(http.StatusOK, gin.H{"success": true, "data": attendanceView{
		SessionID:       sum.SessionID,
		Status:          sum.Status,
		PatientMasked:   sum.PatientMasked,
		ProviderID:      sum.ProviderID,
		ActualStart:     sum.ActualStart,
		ActualEnd:       sum.ActualEnd,
		Roles:           sum.Attendance,
		WaitingRoom:     sum.Waits,
		WaitSeconds:     sum.WaitSeconds,
		BillableSeconds: sum.BillableSeconds,
		BillableMinutes: sum.BillableMinutes,
		NoShow:          sum.NoShow,
		AsOf:            sum.AsOf,
	}})
}

// fhirBundle is GET /sessions/:id/fhir: the session's Appointment and Encounter, FHIR
// R4, in a collection Bundle.
func (s *Server) fhirBundle(c *gin.Context) {
	state, err := s.sessions.Get(c.Request.Context(), c.Param("id"))
	if !s.found(c, err) {
		return
	}
	b, err := fhir.Bundle(state)
	var body []byte
	if err == nil {
		body, err = json.Marshal(b)
	}
	if err != nil {
		s.internal(c, fmt.Errorf("fhir bundle: %w", err))
		return
	}
	c.Data(http.StatusOK, fhirJSON, body)
}

// found answers a lookup that failed and reports whether it succeeded.
func (s *Server) found(c *gin.Context, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrNotFound):
		s.fail(c, http.StatusNotFound, "Session not found")
	default:
		s.internal(c, err)
	}
	return false
}

// Summary queries the session's summary, through the run that carries its id.
func (t *Temporal) Summary(ctx context.Context, sessionID string) (
	workflows.Summary, error) {
	exec, err := t.find(ctx, sessionID)
	if err != nil {
		return workflows.Summary{}, err
	}
	var sum workflows.Summary
	if err := t.queryInto(ctx, exec.WorkflowId, exec.RunId, workflows.SummaryQuery,
		&sum); err != nil {
		return workflows.Summary{}, err
	}
	return sum, nil
}
