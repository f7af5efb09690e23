package vendor_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/telehealth/sessions/internal/integrations/vendor"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":      0,
		"9":     9 * time.Second,
		" 120 ": 2 * time.Minute,
		"-3":    0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		"Wed, 02 Jan 2030 14:00:00 GMT":                   0, // already past
		"soon":                                            0,
	} {
		assert.Equal(t, want, vendor.RetryAfter(v, now), "%q", v)
	}
}
