package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/audit"
	"github.com/telehealth/sessions/internal/launch"
	"github.com/telehealth/sessions/internal/metrics"
)

// pathParam matches a path parameter in either syntax: gin's :id, OpenAPI's {id}.
var pathParam = regexp.MustCompile(`:[^/]+|\*[^/]+|\{[^/}]+\}`)

func routeKey(method, path string) string {
	return method + " " + pathParam.ReplaceAllString(path, "{}")
}

// fullRouter is the router with every optional route registered: the metrics, and
// the live visit's routes, which need an engine that serves visits.
func fullRouter(t *testing.T) *gin.Engine {
	t.Helper()
	m, err := metrics.New()
	require.NoError(t, err)
	l, err := audit.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	r, err := api.Router(api.Config{
		APIKeys: []string{testKey}, CreateWait: time.Second, DefaultDuration: 30,
		Metrics:           m,
		ZoomWebhookSecret: webhookSecret,
		Guard: api.Guard{
			Codec:  testCodec(t),
			Launch: launch.New("http://api.example", testCodec(t)),
			Hosts:  &hosts{},
			Audit:  l,
		},
	}, &fakeVisits{fakeSessions: fakeSessions{links: links}}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return r
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()), "not a valid OpenAPI 3 document")
	return doc
}

// TestOpenAPIDocumentsEveryRoute fails when a route is added without documenting it,
// or documented without existing.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[routeKey(method, path)] = true
		}
	}

	registered := map[string]bool{}
	for _, r := range fullRouter(t).Routes() {
		key := routeKey(r.Method, r.Path)
		registered[key] = true
		assert.True(t, documented[key], "route %s %s is not in openapi.json", r.Method, r.Path)
	}
	for key := range documented {
		assert.True(t, registered[key], "openapi.json documents %s, which no route serves", key)
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/openapi.json", nil)
	w := httptest.NewRecorder()
	fullRouter(t).ServeHTTP(w, req)

	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.JSONEq(t, string(api.OpenAPI), w.Body.String())
}

// TestMetricsTimeRequestsByRoute checks that /metrics shows a request under its route
// template, never under its path.
func TestMetricsTimeRequestsByRoute(t *testing.T) {
	h := fullRouter(t)
	req := httptest.NewRequest(http.MethodGet, "/sessions/SESSION-1730851234567-zzzzzz", nil)
	req.Header.Set("X-Api-Key", testKey)
	h.ServeHTTP(httptest.NewRecorder(), req)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, w.Code)
	body, _ := io.ReadAll(w.Body)
	text := string(body)
	assert.Contains(t, text, `telehealth_http_request_duration_seconds_count{`+
		`method="GET",route="/sessions/:id",status="404"} 1`)
	assert.False(t, strings.Contains(text, "SESSION-1730851234567"), "a path leaked into labels")
	assert.Contains(t, text, "go_goroutines")
}
