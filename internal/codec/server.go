package codec

import (
	"net/http"
	"slices"

	"github.com/rs/cors"
	"go.temporal.io/sdk/converter"
)

// ServerOptions configure the codec server.
type ServerOptions struct {
	// Origins are the browser origins allowed to call the server: the Temporal Web
	// UI's, e.g. http://127.0.0.1:8233. Empty: no browser may.
	Origins []string
	// Authorize reports whether a request may use the codec; nil allows every request,
	// which only suits a server bound to loopback.
	Authorize func(r *http.Request) bool
}

// Server returns the codec server that the Temporal Web UI and CLI call: POST
// {prefix}/encode and {prefix}/decode with a JSON Payloads body, the protocol of the
// SDK's remote codec. Browsers get CORS answers for the configured origins only;
// every other request must pass Authorize.
func Server(c *Codec, opts ServerOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if opts.Authorize != nil && !opts.Authorize(r) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4<<20)
		inner.ServeHTTP(w, r)
	})
	return cors.New(cors.Options{
		// An exact match against the list: rs/cors would allow every origin for an
		// empty AllowedOrigins.
		AllowOriginFunc:  func(o string) bool { return slices.Contains(opts.Origins, o) },
		AllowedMethods:   []string{http.MethodPost},
		AllowedHeaders:   []string{"Content-Type", "X-Namespace", "Authorization"},
		AllowCredentials: true,
		MaxAge:           600,
	}).Handler(guarded)
}
