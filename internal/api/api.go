// Package api is the HTTP API that booking systems call: it authenticates and validates
// a session request, starts the session's workflow and returns its links.
package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/telehealth/sessions/internal/session"
	"github.com/telehealth/sessions/workflows"
)

// MaxBodyBytes is the largest request body the API reads.
const MaxBodyBytes = 64 << 10

// traceIDKey carries a request's trace id to its log line.
const traceIDKey = "trace_id"

// Config is what the API needs of the service's configuration.
type Config struct {
	APIKeys []string // empty: no authentication
	// PHIKeys are the APIKeys allowed to see PHI (the unmasked attendance export).
	PHIKeys         []string
	TrustedProxies  []string
	CreateWait      time.Duration
	DefaultDuration int
	Policy          workflows.Policy
	// ZoomWebhookSecret is the Zoom app's secret token; empty: no Zoom webhook.
	ZoomWebhookSecret string
	Guard             Guard // security.go
	// Metrics, when set, times every request and is served at GET /metrics.
	Metrics Metrics
}

// Metrics is what the API needs of the metrics registry.
type Metrics interface {
	ObserveHTTP(route, method string, status int, d time.Duration)
	Handler() http.Handler
}

// Server serves the API.
type Server struct {
	cfg      Config
	sessions Sessions
	logger   *slog.Logger
	keys     [][sha256.Size]byte
	phiKeys  map[string]bool // key ids; export.go
	replays  replayGuard
}

// New returns the API's handler.
func New(cfg Config, sessions Sessions, logger *slog.Logger) (http.Handler, error) {
	s, r, err := build(cfg, sessions, logger)
	if err != nil {
		return nil, err
	}
	return s.withCORS(r), nil
}

// build returns the server and its router, every route registered.
func build(cfg Config, sessions Sessions, logger *slog.Logger) (*Server, *gin.Engine, error) {
	s := &Server{cfg: cfg, sessions: sessions, logger: logger,
		phiKeys: phiKeyIDs(cfg.PHIKeys)}
	for _, k := range cfg.APIKeys {
		s.keys = append(s.keys, sha256.Sum256([]byte(strings.TrimSpace(k))))
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, nil, err
	}
	r.Use(s.logRequests, gin.CustomRecovery(s.recovered), s.deadline, s.audit, s.allowIP)
	// Routes on r itself skip the per-ip limit and the body cap: health probes, the Web
	// UI's codec calls and the platform's signed events come in bursts, and the last
	// cap their own, larger bodies.
	r.GET("/healthz", s.health)

	limited := r.Group("/", s.limitIP, s.limitBody)
	limited.GET("/openapi.json", serveOpenAPI)
	if cfg.Metrics != nil {
		limited.GET("/metrics", gin.WrapH(cfg.Metrics.Handler()))
	}

	authed := limited.Group("/", s.authenticate, s.limitKey)
	authed.POST(webhookRoute, s.verifySignature, s.createSession)
	authed.GET("/sessions/:id", s.getSession)
	s.visitRoutes(r, authed)  // visit.go
	s.afterRoutes(authed)     // after.go
	s.recordingRoutes(authed) // recordings.go
	s.reportRoutes(authed)    // export.go
	s.mountSecurity(r, limited, authed)
	r.NoRoute(s.limitIP, func(c *gin.Context) {
		if !c.IsAborted() {
			s.fail(c, http.StatusNotFound, "Not found")
		}
	})
	return s, r, nil
}

// createSession is POST /webhook/telehealth-session.
func (s *Server) createSession(c *gin.Context) {
	began := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.fail(c, http.StatusRequestEntityTooLarge, "Request body exceeds 64 KiB")
		return
	}
	if err != nil {
		s.fail(c, http.StatusBadRequest, "Request body could not be read")
		return
	}
	booking, err := session.Parse(body, session.Limits{
		Now:             began,
		DefaultDuration: s.cfg.DefaultDuration,
		PastTolerance:   s.cfg.Policy.PastTolerance,
	})
	var invalid *session.ValidationError
	if errors.As(err, &invalid) {
		c.JSON(http.StatusBadRequest, gin.H{
			"success":           false,
			"error":             invalid.Error(),
			"validation_errors": invalid.Problems,
			"timestamp":         stamp(time.Now()),
		})
		return
	}
	if err != nil {
		s.internal(c, err)
		return
	}
	if booking.TraceID == "" {
		booking.TraceID = headerTraceID(c.Request.Header)
	}
	c.Set(traceIDKey, booking.TraceID)

	links, err := s.sessions.Create(c.Request.Context(), workflows.SessionInput{
		Booking:  booking,
		ClientIP: c.ClientIP(),
		Policy:   s.cfg.Policy,
	}, s.cfg.CreateWait)

	var pending *PendingError
	switch {
	case err == nil:
		c.Set(sessionIDKey, links.SessionID)
		s.created(c, began, links)
	case errors.As(err, &pending):
		c.Set(sessionIDKey, pending.SessionID)
		s.accepted(c, began, pending.SessionID, booking.TraceID)
	case errors.Is(err, ErrCancelled):
		s.fail(c, http.StatusConflict, "This booking was cancelled.")
	case errors.Is(err, ErrConflict):
		s.fail(c, http.StatusConflict, "This booking already has a session with a "+
			"different time, duration or details. Rescheduling is a separate operation.")
	case errors.Is(err, ErrInvalid):
		s.fail(c, http.StatusBadRequest, "The session request was rejected as invalid.")
	case errors.Is(err, ErrMeetingFailed):
		s.logger.WarnContext(c, "meeting creation failed", "error", err)
		s.fail(c, http.StatusInternalServerError,
			"Failed to create video meeting. Please check API credentials.")
	default:
		s.internal(c, err)
	}
}

func (s *Server) created(c *gin.Context, began time.Time, l workflows.Links) {
	elapsed := time.Now().Sub(began).Milliseconds()
	s.timingHeaders(c, elapsed, l.TraceID)
	c.JSON(http.StatusOK, gin.H{
		"success": true,
		"message": "Telehealth session created successfully",
		"data": gin.H{
			"session_id":       l.SessionID,
			"meeting_url":      l.MeetingURL,
			"provider_url":     l.ProviderURL,
			"scheduled_start":  l.ScheduledStart.UTC().Format(time.RFC3339),
			"duration_minutes": l.DurationMinutes,
			"security": gin.H{
				"encryption_enabled":   l.Security.EncryptionEnabled,
				"waiting_room_enabled": l.Security.WaitingRoomEnabled,
			},
			"trace_id": l.TraceID,
		},
		"metadata": s.metadata(began, elapsed),
	})
}

func (s *Server) accepted(c *gin.Context, began time.Time, sessionID, traceID string) {
	elapsed := time.Now().Sub(began).Milliseconds()
	s.timingHeaders(c, elapsed, cmp.Or(traceID, sessionID))
	c.Header("Location", "/sessions/"+sessionID)
	data := gin.H{"session_id": sessionID, "trace_id": cmp.Or(traceID, sessionID),
		"status_url": "/sessions/" + sessionID}
	msg := "Session accepted; the video meeting is still being created. Follow it at " +
		"GET /sessions/" + sessionID + ", or post the same request again for its links."
	c.JSON(http.StatusAccepted, gin.H{
		"success":  true,
		"message":  msg,
		"data":     data,
		"metadata": s.metadata(began, elapsed),
	})
}

// getSession is GET /sessions/:id.
func (s *Server) getSession(c *gin.Context) {
	state, err := s.sessions.Get(c.Request.Context(), c.Param("id"))
	if !s.found(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "data": visitView(state)})
}

// health is GET /healthz: it checks the Temporal connection.
func (s *Server) health(c *gin.Context) {
	if err := s.sessions.Healthy(c.Request.Context()); err != nil {
		s.logger.WarnContext(c, "health check failed", "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// authenticate accepts a key in x-api-key or as a bearer token, compared in constant
// time against every configured key, so that clients can rotate keys without downtime.
func (s *Server) authenticate(c *gin.Context) {
	actor, ok := s.keyOf(c.Request)
	c.Set(actorKey, actor)
	if !ok {
		c.Header("WWW-Authenticate", "Bearer")
		s.fail(c, http.StatusUnauthorized, "Unauthorized: Invalid or missing API key")
		c.Abort()
	}
}

// logRequests logs each request by its route template, never its query string or body.
func (s *Server) logRequests(c *gin.Context) {
	began := time.Now()
	id := c.GetHeader("X-Request-Id")
	if id == "" || len(id) > 64 {
		id = uuid.NewString()
	}
	c.Header("X-Request-Id", id)
	c.Header("X-Workflow-Version", workflows.Version)
	c.Next()

	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	elapsed := time.Since(began)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.ObserveHTTP(route, c.Request.Method, c.Writer.Status(), elapsed)
	}
	level := slog.LevelInfo
	if c.Writer.Status() >= 500 {
		level = slog.LevelError
	}
	s.logger.Log(c, level, "request served",
		"request_id", id,
		"trace_id", c.GetString(traceIDKey),
		"method", c.Request.Method,
		"route", route,
		"status", c.Writer.Status(),
		"duration_ms", elapsed.Milliseconds(),
	)
}

func (s *Server) recovered(c *gin.Context, _ any) {
	s.logger.ErrorContext(c, "handler panicked", "route", c.FullPath())
	s.fail(c, http.StatusInternalServerError, "Internal error")
}

// An engine that does not answer in time is a 503 that tells the caller to try again:
// nothing is known to have happened.
func (s *Server) internal(c *gin.Context, err error) {
	if unavailable(err) {
		s.logger.WarnContext(c, "engine unavailable", "route", c.FullPath(), "error", err)
		c.Header("Retry-After", "5")
		s.fail(c, http.StatusServiceUnavailable,
			"The session service is temporarily unavailable. Please retry.")
		return
	}
	s.logger.ErrorContext(c, "request failed", "route", c.FullPath(), "error", err)
	s.fail(c, http.StatusInternalServerError, "Internal error")
}

// unavailable tells an engine that did not answer, or answered that it could not serve
// now, from a fault of ours.
func unavailable(err error) bool {
	var (
		down     *serviceerror.Unavailable
		late     *serviceerror.DeadlineExceeded
		busy     *serviceerror.ResourceExhausted
		noWorker *client.WorkflowUpdateServiceTimeoutOrCanceledError
		notReady *serviceerror.WorkflowNotReady
	)
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &down) || errors.As(err, &late) || errors.As(err, &busy) ||
		errors.As(err, &noWorker) || errors.As(err, &notReady)
}

// deadline bounds every request, so that an engine that does not answer costs a caller
// a bounded wait and a 503, never a hang. The create route's own wait fits inside it.
func (s *Server) deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.CreateWait+5*time.Second)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// fail writes the spec's error body.
func (s *Server) fail(c *gin.Context, status int, msg string) {
	c.JSON(status, gin.H{"success": false, "error": msg, "timestamp": stamp(time.Now())})
}

func (s *Server) timingHeaders(c *gin.Context, elapsedMS int64, traceID string) {
	c.Header("X-Execution-Time-Ms", strconv.FormatInt(elapsedMS, 10))
	c.Header("X-Trace-Id", traceID)
}

func (s *Server) metadata(began time.Time, elapsedMS int64) gin.H {
	return gin.H{
		"execution_time_ms": elapsedMS,
		"performance":       performance(elapsedMS),
		"workflow_version":  workflows.Version,
		"timestamp":         stamp(began),
	}
}

// performance is the spec's category of a request's execution time.
func performance(ms int64) string {
	switch {
	case ms < 1000:
		return "fast"
	case ms < 2000:
		return "normal"
	default:
		return "slow"
	}
}

// headerTraceID takes a caller's trace id from X-Trace-Id, or from a W3C traceparent.
func headerTraceID(h http.Header) string {
	if id, ok := session.NormalizeTraceID(h.Get("X-Trace-Id")); ok {
		return id
	}
	if id, ok := session.TraceIDFromTraceparent(h.Get("Traceparent")); ok {
		return id
	}
	return ""
}

func stamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
