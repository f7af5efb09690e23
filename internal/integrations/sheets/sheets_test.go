package sheets_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/auth/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/sheets"
	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/internal/integrations/vendortest"
	"github.com/telehealth/sessions/internal/sink"
)

const sheetID = "1AbCdEfGhIjKlMnOpQrStUvWxYz"

func newLog(t *testing.T, g *vendortest.Google, id string) *sheets.Log {
	t.Helper()
	creds, err := credentials.NewCredentialsFromFile(credentials.ServiceAccount,
		g.CredentialsFile(t), &credentials.DetectOptions{
			Scopes: []string{sheets.Scope},
			Client: &http.Client{Timeout: 2 * time.Second},
		})
	require.NoError(t, err)
	l, err := sheets.New(t.Context(), sheets.Config{
		SpreadsheetID: id, Tab: "Sessions", Timeout: 300 * time.Millisecond,
	}, option.WithAuthCredentials(creds), option.WithEndpoint(g.URL()))
	require.NoError(t, err)
	return l
}

var t0 = time.Date(2027, 3, 1, 13, 0, 0, 0, time.UTC)

func row(status string, at time.Time) activities.LogRow {
	return activities.LogRow{
		Timestamp: at, SessionID: "SESSION-1730851234567-a3f7k2", BookingID: "BOOK-1",
		MeetingID: "85012345678", PatientEmail: "sarah.johnson@example.com",
		MeetingURL:     "https://zoom.us/j/85012345678?pwd=secret",
		ProviderURL:    "https://zoom.us/s/85012345678?zak=token",
		ScheduledStart: t0.Add(time.Hour), DurationMinutes: 30,
		EncryptionEnabled: true, WaitingRoomEnabled: true, ClientIP: "203.0.113.7",
		Status: status,
	}
}

func TestEmptySheetGetsHeaderAndOneRow(t *testing.T) {
	g := vendortest.NewGoogle(t, sheetID, map[string][]string{"Sessions": nil})
	l := newLog(t, g, sheetID)

	require.NoError(t, l.Record(t.Context(), row("SCHEDULED", t0)))
	require.NoError(t, l.Record(t.Context(), row("SCHEDULED", t0)), "a retry")

	rows := g.Rows(sheetID, "Sessions")
	require.Len(t, rows, 2, "header and one row")
	assert.Equal(t, sink.LogColumns, rows[0])
	assert.Equal(t, []string{
		"2027-03-01T13:00:00Z", "SESSION-1730851234567-a3f7k2", "BOOK-1", "85012345678",
		"s***n@example.com", "https://zoom.us/j/85012345678?pwd=***",
		"https://zoom.us/s/85012345678?zak=***", "2027-03-01T14:00:00Z", "30", "TRUE",
		"TRUE", "FALSE", "203.0.113.7", "SCHEDULED",
	}, rows[1])
	assert.GreaterOrEqual(t, g.Mints(), 1, "token from the file's token_uri")
}

func TestColumnsByNameAndOneRowPerSession(t *testing.T) {
	header := []string{"status", "notes", "session_id", "timestamp", "patient_email"}
	g := vendortest.NewGoogle(t, sheetID, map[string][]string{"Sessions": header})
	l := newLog(t, g, sheetID)

	require.NoError(t, l.Record(t.Context(), row("SCHEDULED", t0)))
	rows := g.Rows(sheetID, "Sessions")
	require.Len(t, rows, 2)
	// Staff write their own column; a later status must leave it alone.
	g.SetCell(sheetID, "Sessions", 1, 1, "called patient")

	require.NoError(t, l.Record(t.Context(), row("COMPLETED", t0.Add(25*time.Hour))))
	require.NoError(t, l.Record(t.Context(), row("SCHEDULED", t0)),
		"a late retry of the first record")

	rows = g.Rows(sheetID, "Sessions")
	require.Len(t, rows, 2, "updated, not duplicated")
	assert.Equal(t, []string{"COMPLETED", "called patient", "SESSION-1730851234567-a3f7k2",
		"2027-03-02T14:00:00Z", "s***n@example.com"}, rows[1])
}

func TestSheetsFailures(t *testing.T) {
	cases := map[string]struct {
		id        string
		header    []string
		fault     *vendortest.Fault
		retryable bool
		status    int
		after     time.Duration
	}{
		"unknown spreadsheet is permanent":  {id: "nope", status: 404},
		"no session_id column is permanent": {header: []string{"status"}},
		"quota is retried, waiting as asked": {
			fault: &vendortest.Fault{Status: 429, RetryAfter: "5"}, retryable: true,
			status: 429, after: 5 * time.Second},
		"server error is retried": {fault: &vendortest.Fault{Status: 503},
			retryable: true, status: 503},
		"timeout is retried": {fault: &vendortest.Fault{Delay: 2 * time.Second},
			retryable: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			g := vendortest.NewGoogle(t, sheetID, map[string][]string{"Sessions": c.header})
			id := sheetID
			if c.id != "" {
				id = c.id
			}
			l := newLog(t, g, id)
			if c.fault != nil {
				g.Inject(*c.fault)
			}
			err := l.Record(t.Context(), row("SCHEDULED", t0))

			var verr *vendor.Error
			require.True(t, errors.As(err, &verr), "got %v", err)
			assert.Equal(t, c.retryable, verr.Retryable)
			assert.Equal(t, c.status, verr.Status)
			assert.Equal(t, c.after, verr.RetryAfter)
			assert.NotContains(t, verr.Error(), "sarah")
			assert.Len(t, g.Rows(sheetID, "Sessions"), len(c.header[:min(len(c.header), 1)]))
		})
	}
}
