package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/telehealth/sessions/internal/visits"
	"github.com/telehealth/sessions/workflows"
)

// Retentions is what the recordings' routes need of the workflow engine. A Sessions
// that also implements it gets GET /recordings/retention.
type Retentions interface {
	// PendingDeletions lists the recordings whose retention is running, soonest
	// deletion first; truncated says the list was cut.
	PendingDeletions(ctx context.Context) ([]visits.PendingDeletion, bool, error)
}

// LateRecordings is what a recording.completed needs of the workflow engine once the
// meeting's session has closed. A Visits that also implements it gets such a
// recording's retention started from the webhook instead of the event being dropped.
type LateRecordings interface {
	// StartLateRetention starts the retention of a recording whose session has
	// closed, at most once per recording (RetentionWorkflowID), and returns the
	// session's id; ErrNotIndexed when no session is known to have the meeting.
	StartLateRetention(ctx context.Context, rec workflows.Recording,
		retain time.Duration) (string, error)
}

// recordingRoutes adds the recordings' routes when the engine serves them.
func (s *Server) recordingRoutes(authed *gin.RouterGroup) {
	if _, ok := s.sessions.(Retentions); !ok {
		return
	}
	authed.GET("/recordings/retention", s.pendingDeletions)
}

// pendingDeletions is GET /recordings/retention: what retention will delete, and
// when, with the recordings under legal hold marked.
func (s *Server) pendingDeletions(c *gin.Context) {
	list, truncated, err := s.sessions.(Retentions).PendingDeletions(c.Request.Context())
	if err != nil {
		s.internal(c, err)
		return
	}
	if list == nil {
		list = []visits.PendingDeletion{}
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "data": gin.H{
		"recordings": list,
		"truncated":  truncated,
	}})
}

// PendingDeletions lists the recordings pending deletion through the directory.
func (t *Temporal) PendingDeletions(ctx context.Context) (
	[]visits.PendingDeletion, bool, error) {
	return t.directory().PendingDeletions(ctx)
}

// StartLateRetention finds the closed session of the recording's meeting and starts
// the recording's retention on the task queue, as the session would have.
func (t *Temporal) StartLateRetention(ctx context.Context, rec workflows.Recording,
	retain time.Duration) (string, error) {
	sessionID, err := t.directory().SessionOfMeeting(ctx, rec.MeetingID)
	if err != nil {
		return "", err
	}
	in := workflows.RetentionInput{Recording: rec, SessionID: sessionID, Retain: retain}
	err = t.directory().StartRetention(ctx, t.TaskQueue,
		workflows.RetentionWorkflowID(rec.ID), in)
	return sessionID, err
}
