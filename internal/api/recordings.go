package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/telehealth/sessions/internal/visits"
)

// Retentions is what the recordings' routes need of the workflow engine. A Sessions
// that also implements it gets GET /recordings/retention.
type Retentions interface {
	// PendingDeletions lists the recordings whose retention is running, soonest
	// deletion first; truncated says the list was cut.
	PendingDeletions(ctx context.Context) ([]visits.PendingDeletion, bool, error)
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
