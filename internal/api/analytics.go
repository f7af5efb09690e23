package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/converter"

	"github.com/telehealth/sessions/internal/analytics"
)

// Bounds of GET /analytics.
const (
	// MaxAnalyticsSessions is the most sessions one report reads (one Session query
	// each, closed ones cached); a range with more is a 400.
	MaxAnalyticsSessions = 2000
	// MaxAnalyticsSpan is the longest range one report covers.
	MaxAnalyticsSpan = 366 * 24 * time.Hour
)

// analytics is GET /analytics?from=&to=[&bucket=day|week|month]: the sessions
// scheduled in [from, to) by bucket and status, the average actual duration, the
// no-show rate, provider utilization and the compliance rates. No PHI is read.
func (s *Server) analytics(c *gin.Context) {
	r, problems := analytics.ParseRange(c.Query("from"), c.Query("to"), MaxAnalyticsSpan)
	bucket, ok := analytics.ParseBucket(c.Query("bucket"))
	if !ok {
		problems = append(problems, "bucket must be day, week or month")
	}
	if len(problems) > 0 {
		s.invalid(c, problems)
		return
	}
	auditRange(c, r, -1)
	sessions, ok := s.reportSessions(c, r, MaxAnalyticsSessions)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true,
		"data": analytics.Compute(sessions, r, bucket)})
}

// Reporting is the Temporal engine that also serves the attendance export and the
// analytics: a Temporal and the source that lists sessions over a range (closed
// sessions' facts kept for the life of the process).
type Reporting struct {
	*Temporal
	Source *analytics.Source
}

// NewReporting returns t with a source on t's client. dc opens the runs' sealed
// inputs and results: the service's codec converter (nil: the SDK's default, for
// unsealed histories only).
func NewReporting(t *Temporal, dc converter.DataConverter) *Reporting {
	return &Reporting{Temporal: t,
		Source: &analytics.Source{Client: t.Client, DataConverter: dc}}
}

// ReportSessions lists the sessions scheduled in r through the analytics source.
func (t *Reporting) ReportSessions(ctx context.Context, r analytics.Range, limit int) (
	[]analytics.Session, error) {
	return t.Source.Sessions(ctx, r, limit)
}

// PatientContacts reads the sessions' patients from their sealed inputs.
func (t *Reporting) PatientContacts(ctx context.Context, s []analytics.Session) (
	[]analytics.Contact, error) {
	return t.Source.Contacts(ctx, s)
}

// Analytics computes the report of the sessions scheduled in r, by day: the metrics'
// rolling window.
func (t *Reporting) Analytics(ctx context.Context, r analytics.Range) (
	analytics.Report, error) {
	sessions, err := t.ReportSessions(ctx, r, MaxAnalyticsSessions)
	if err != nil {
		return analytics.Report{}, err
	}
	return analytics.Compute(sessions, r, analytics.Day), nil
}
