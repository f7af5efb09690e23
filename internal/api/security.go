package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/cors"

	"github.com/telehealth/sessions/internal/audit"
	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/launch"
	"github.com/telehealth/sessions/internal/ratelimit"
	"github.com/telehealth/sessions/workflows"
)

// Guard is the API's access hardening; every part is optional.
type Guard struct {
	// AllowedOrigins may call the API from a browser (CORS); empty, none may.
	AllowedOrigins []string
	// IPAllowlist, when set, is the only client addresses served (403 otherwise).
	IPAllowlist []netip.Prefix
	// Limiter limits requests per client ip, and per API key once authenticated.
	Limiter ratelimit.Limiter
	// WebhookSecret, when set, requires an HMAC-SHA256 signature on booking webhooks.
	WebhookSecret string
	// Codec serves /codec/encode and /codec/decode for the Temporal Web UI and CLI,
	// to CodecOrigins' browsers and to requests with an API key (when keys are on).
	Codec        *codec.Codec
	CodecOrigins []string
	// Launch and Hosts serve the providers' launch links.
	Launch *launch.Links
	Hosts  HostLinker
	// Audit records every access; Compliance is shown at GET /compliance.
	Audit      *audit.Log
	Compliance any
}

// HostLinker mints a meeting's host start link.
type HostLinker interface {
	HostLink(ctx context.Context, meetingID string) (string, error)
}

// Context keys of the guards.
const (
	actorKey     = "actor"
	sessionIDKey = "session_id"
)

// Headers of a signed booking webhook: the signature is
// sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)), the timestamp Unix seconds.
const (
	SignatureHeader    = "X-Signature-256"
	SignatureTimestamp = "X-Signature-Timestamp"
	signatureSkew      = 5 * time.Minute
	webhookRoute       = "/webhook/telehealth-session"
	codecRoute         = "/codec/*op"
)

// mountSecurity adds the routes of #5: launch links, the codec server, the compliance
// posture and the audit export.
func (s *Server) mountSecurity(r *gin.Engine, limited, authed *gin.RouterGroup) {
	g := s.cfg.Guard
	if g.Launch != nil && g.Hosts != nil {
		limited.GET("/sessions/:id/launch/:token", s.launchHost)
	}
	if g.Codec != nil {
		h := gin.WrapH(codec.Server(g.Codec, codec.ServerOptions{
			Origins: g.CodecOrigins,
			Authorize: func(r *http.Request) bool {
				_, ok := s.keyOf(r)
				return ok
			},
		}))
		r.POST(codecRoute, h)
		r.OPTIONS(codecRoute, h)
	}
	authed.GET("/compliance", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"success": true, "data": g.Compliance})
	})
	if g.Audit != nil {
		authed.GET("/audit/export", s.exportAudit)
	}
}

// withCORS answers browsers from the allowed origins; the codec routes answer for
// themselves, to the Web UI's origin.
func (s *Server) withCORS(h http.Handler) http.Handler {
	origins := s.cfg.Guard.AllowedOrigins
	wrapped := cors.New(cors.Options{
		AllowOriginFunc: func(o string) bool {
			for _, a := range origins {
				if a == o || a == "*" {
					return true
				}
			}
			return false
		},
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Content-Type", "X-Api-Key", "Authorization",
			"X-Trace-Id", "Traceparent", "X-Request-Id", SignatureHeader, SignatureTimestamp},
		ExposedHeaders: []string{"X-Request-Id", "X-Trace-Id", "Retry-After"},
		MaxAge:         600,
	}).Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/codec/") {
			h.ServeHTTP(w, r)
			return
		}
		wrapped.ServeHTTP(w, r)
	})
}

// keyOf finds the request's API key (x-api-key or a bearer token) among the configured
// ones, in constant time, and returns its id. With no keys configured every request
// passes, as "anonymous".
func (s *Server) keyOf(r *http.Request) (string, bool) {
	if len(s.keys) == 0 {
		return "anonymous", true
	}
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if strings.EqualFold(scheme, "Bearer") {
			key = strings.TrimSpace(token)
		}
	}
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i, k := range s.keys {
		if hmac.Equal(sum[:], k[:]) {
			found = i
		}
	}
	if key == "" || found < 0 {
		return "", false
	}
	return KeyID(s.keys[found]), true
}

// KeyID names an API key in the audit log and the rate limiter without revealing it:
// the first 8 bytes of a hash of its hash.
func KeyID(sum [sha256.Size]byte) string {
	h := sha256.Sum256(sum[:])
	return "key-" + hex.EncodeToString(h[:8])
}

func (s *Server) allowIP(c *gin.Context) {
	list := s.cfg.Guard.IPAllowlist
	if len(list) == 0 {
		return
	}
	ip, err := netip.ParseAddr(c.ClientIP())
	if err == nil {
		ip = ip.Unmap()
		for _, p := range list {
			if p.Contains(ip) {
				return
			}
		}
	}
	s.fail(c, http.StatusForbidden, "Forbidden: client address not allowed")
	c.Abort()
}

// limitIP limits a client address.
func (s *Server) limitIP(c *gin.Context) {
	s.limit(c, "ip:"+c.ClientIP())
}

// limitKey limits an authenticated key; it runs after authenticate.
func (s *Server) limitKey(c *gin.Context) {
	if actor := c.GetString(actorKey); actor != "" && actor != "anonymous" {
		s.limit(c, "key:"+actor)
	}
}

func (s *Server) limit(c *gin.Context, key string) {
	l := s.cfg.Guard.Limiter
	if l == nil || c.IsAborted() {
		return
	}
	ok, wait, err := l.Allow(c.Request.Context(), key)
	if err != nil {
		// A limiter that cannot answer must not take the API down with it.
		s.logger.WarnContext(c, "rate limiter unavailable", "error", err)
		return
	}
	if !ok {
		c.Header("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(wait)))
		s.fail(c, http.StatusTooManyRequests, "Too many requests")
		c.Abort()
	}
}

// limitBody caps a request body; the handlers answer 413 themselves.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
	}
}

// verifySignature checks a booking webhook's HMAC signature and timestamp.
func (s *Server) verifySignature(c *gin.Context) {
	secret := s.cfg.Guard.WebhookSecret
	if secret == "" {
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.fail(c, http.StatusRequestEntityTooLarge, "Request body exceeds 64 KiB")
		c.Abort()
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil || !ValidSignature(secret, c.GetHeader(SignatureTimestamp),
		c.GetHeader(SignatureHeader), body, time.Now()) {
		s.fail(c, http.StatusUnauthorized, "Unauthorized: missing or invalid signature")
		c.Abort()
	}
}

// Sign returns the signature header value of a webhook body at a timestamp.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ValidSignature checks a signature and that its timestamp is within five minutes of
// now, so that a captured request cannot be replayed later.
func ValidSignature(secret, timestamp, signature string, body []byte, now time.Time) bool {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > signatureSkew || d < -signatureSkew {
		return false
	}
	return hmac.Equal([]byte(signature), []byte(Sign(secret, timestamp, body)))
}

// launchHost is GET /sessions/:id/launch/:token: it checks the token against the
// session's meeting, mints a fresh host start link and redirects to it. The link is
// never stored or logged.
func (s *Server) launchHost(c *gin.Context) {
	g := s.cfg.Guard
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	state, err := s.sessions.Get(c.Request.Context(), c.Param("id"))
	if !s.found(c, err) {
		return
	}
	if state.MeetingID == "" ||
		g.Launch.Check(c.Param("token"), state.SessionID, state.MeetingID) != nil {
		s.fail(c, http.StatusNotFound, "Session not found")
		return
	}
	c.Set(actorKey, "launch-token")
	// Only a session that is still to happen, or happening, can be launched.
	switch state.Status {
	case workflows.StatusScheduled, workflows.StatusInProgress:
	default:
		s.fail(c, http.StatusGone, "This session is over")
		return
	}
	link, err := g.Hosts.HostLink(c.Request.Context(), state.MeetingID)
	if err != nil {
		s.logger.WarnContext(c, "host link failed", "session_id", state.SessionID,
			"error", err)
		s.fail(c, http.StatusBadGateway,
			"The video platform did not answer; try the link again shortly.")
		return
	}
	c.Redirect(http.StatusFound, link)
}

// exportAudit is GET /audit/export?format=csv|jsonl.
func (s *Server) exportAudit(c *gin.Context) {
	l := s.cfg.Guard.Audit
	c.Header("Cache-Control", "no-store")
	var err error
	switch c.DefaultQuery("format", "jsonl") {
	case "csv":
		c.Header("Content-Type", "text/csv")
		c.Status(http.StatusOK)
		err = l.WriteCSV(c.Request.Context(), c.Writer)
	case "jsonl":
		c.Header("Content-Type", "application/jsonl")
		c.Status(http.StatusOK)
		err = l.WriteJSONL(c.Request.Context(), c.Writer)
	default:
		s.fail(c, http.StatusBadRequest, "format must be csv or jsonl")
		return
	}
	if err != nil {
		s.logger.ErrorContext(c, "audit export failed", "error", err)
	}
}

// audit records every request but health checks, after it is served.
func (s *Server) audit(c *gin.Context) {
	c.Next()
	l := s.cfg.Guard.Audit
	route := c.FullPath()
	if l == nil || route == "/healthz" || route == codecRoute {
		return
	}
	sessionID := c.Param("id")
	if sessionID == "" {
		sessionID = c.GetString(sessionIDKey)
	}
	actor := c.GetString(actorKey)
	if actor == "" {
		actor = "unauthenticated"
	}
	_, err := l.Append(context.WithoutCancel(c.Request.Context()), audit.Entry{
		Time:      time.Now(),
		Actor:     actor,
		ClientIP:  c.ClientIP(),
		SessionID: sessionID,
		Action:    cmp.Or(c.GetString(auditActionKey), actionOf(c.Request.Method, route)),
		Outcome:   strconv.Itoa(c.Writer.Status()),
		Detail:    c.GetString(auditDetailKey),
	})
	if err != nil {
		s.logger.ErrorContext(c, "audit append failed", "error", err)
	}
}

// actionOf names a request's action for the audit log.
func actionOf(method, route string) string {
	switch {
	case route == webhookRoute:
		return audit.ActionCreate
	case strings.HasSuffix(route, "/launch/:token"):
		return audit.ActionLaunch
	case route == "/audit/export":
		return audit.ActionExport
	case strings.HasPrefix(route, "/webhook/"), strings.HasPrefix(route, "/webhooks/"):
		return audit.ActionWebhook
	case strings.Contains(route, "/signal"):
		return audit.ActionSignal
	case method == http.MethodGet:
		return audit.ActionView
	case method == http.MethodPost, method == http.MethodPut, method == http.MethodPatch,
		method == http.MethodDelete:
		return audit.ActionUpdate
	}
	return strings.ToLower(method)
}
