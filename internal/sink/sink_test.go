package sink_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/sink"
)

func TestSessionLogHasTheSpecColumnsAndMasksPHI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log", "sessions.csv")
	log := sink.NewSessionLog(path)
	row := activities.LogRow{
		Timestamp:       time.Date(2027, 3, 1, 14, 0, 0, 0, time.UTC),
		SessionID:       "SESSION-1730851234567-a3f7k2",
		BookingID:       "BOOK-1",
		PatientEmail:    "sarah.johnson@example.com",
		MeetingURL:      "https://zoom.us/j/1?pwd=x",
		ProviderURL:     "https://zoom.us/s/1?zak=secret-token",
		ScheduledStart:  time.Date(2027, 3, 1, 16, 0, 0, 0, time.UTC),
		DurationMinutes: 30,
		ClientIP:        "203.0.113.9",
		Status:          "SCHEDULED",
	}
	require.NoError(t, log.Record(context.Background(), row))
	row.Status = "COMPLETED"
	require.NoError(t, log.Record(context.Background(), row))

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3, "one header, then a row per record")
	assert.Equal(t, sink.LogColumns, rows[0])
	assert.Equal(t, "s***n@example.com", rows[1][4])
	assert.NotContains(t, strings.Join(rows[1], ","), "secret-token")
	assert.Equal(t, "SCHEDULED", rows[1][13])
	assert.Equal(t, "COMPLETED", rows[2][13])
}

func TestOutboxMasksRecipients(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	o := sink.NewOutbox(path)
	ctx := context.Background()
	require.NoError(t, o.SendEmail(ctx, activities.Email{SessionID: "S",
		To: "sarah.johnson@example.com", Subject: "Link", Text: "Join"}))
	require.NoError(t, o.SendSMS(ctx, activities.SMS{SessionID: "S", To: "+15551234567"}))
	require.NoError(t, o.TriggerBilling(ctx, activities.BillingRequest{SessionID: "S",
		CustomerEmail: "sarah.johnson@example.com", AmountCents: 7500}))

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 3)
	for _, l := range lines {
		var r sink.Record
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		assert.Equal(t, "S", r.SessionID)
	}
	assert.NotContains(t, string(data), "sarah.johnson")
	assert.NotContains(t, string(data), "5551234567")
	assert.Contains(t, string(data), `"amountCents":7500`)
}
