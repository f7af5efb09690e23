// Package logging builds the service's structured logger: JSON lines on stdout, with a
// backstop that masks the values of keys known to carry PHI, whatever their type.
package logging

import (
	"io"
	"log/slog"
	"strings"

	"github.com/telehealth/sessions/internal/phi"
)

// New returns a JSON logger writing to w at the given level.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: maskKnownKeys,
	}))
}

// maskKnownKeys is the backstop: PHI should reach a log only as a phi type, which masks
// itself; a plain string under a PHI key is masked here.
func maskKnownKeys(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindString {
		return a
	}
	key := strings.ToLower(a.Key)
	v := a.Value.String()
	switch {
	case strings.Contains(key, "email"):
		return slog.String(a.Key, phi.MaskEmail(v))
	case strings.Contains(key, "phone"):
		return slog.String(a.Key, phi.MaskPhone(v))
	case strings.HasSuffix(key, "name") && strings.Contains(key, "patient"):
		return slog.String(a.Key, phi.MaskName(v))
	case strings.Contains(key, "notes"), key == "body":
		return slog.String(a.Key, phi.MaskText(v))
	case strings.HasSuffix(key, "_url"), key == "url":
		return slog.String(a.Key, phi.RedactURL(v))
	}
	return a
}
