package logging_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/telehealth/sessions/internal/logging"
	"github.com/telehealth/sessions/internal/phi"
)

func TestBackstopMasksKnownKeys(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, slog.LevelInfo)

	log.Info("booking received",
		"patient_email", "sarah.johnson@example.com",
		"patient_phone", "+15551234567",
		"patient_name", "Sarah Johnson",
		"provider_url", "https://zoom.us/s/1?zak=secret-token",
		"typed_email", phi.Email("other.person@example.com"),
		"session_id", "SESSION-1730851234567-a3f7k2",
	)

	out := buf.String()
	for _, leak := range []string{"sarah.johnson", "5551234567", "Sarah", "secret-token",
		"other.person"} {
		assert.NotContains(t, out, leak)
	}
	assert.Contains(t, out, "SESSION-1730851234567-a3f7k2", "ids are kept")
}
