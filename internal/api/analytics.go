package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

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
	sessions, ok := s.reportSessions(c, r, MaxAnalyticsSessions)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true,
		"data": analytics.Compute(sessions, r, bucket)})
}

// ReportSessions lists the sessions scheduled in r through the analytics source.
func (t *Temporal) ReportSessions(ctx context.Context, r analytics.Range, limit int) (
	[]analytics.Session, error) {
	return t.source().Sessions(ctx, r, limit)
}

// PatientContacts reads the sessions' patients from their sealed inputs.
func (t *Temporal) PatientContacts(ctx context.Context, s []analytics.Session) (
	[]analytics.Contact, error) {
	return t.source().Contacts(ctx, s)
}

// Analytics computes the report of the sessions scheduled in r, by day: the metrics'
// rolling window.
func (t *Temporal) Analytics(ctx context.Context, r analytics.Range) (
	analytics.Report, error) {
	sessions, err := t.ReportSessions(ctx, r, MaxAnalyticsSessions)
	if err != nil {
		return analytics.Report{}, err
	}
	return analytics.Compute(sessions, r, analytics.Day), nil
}

func (t *Temporal) source() *analytics.Source {
	t.srcOnce.Do(func() {
		t.src = &analytics.Source{Client: t.Client, DataConverter: t.DataConverter}
	})
	return t.src
}
