// Package sheets keeps the session log in a Google Sheet, with Google's Sheets API v4
// client. One row per session: a record finds the session's row by session_id and
// updates it, so a retried activity or a later status never adds a second row. Cells
// are written by header name, so the sheet's columns may be in any order, and columns
// of its own are left alone.
package sheets

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	sheetsapi "google.golang.org/api/sheets/v4"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/sink"
)

const (
	name  = "sheets"
	opLog = "record session"
	// Scope is the OAuth scope the session log needs.
	Scope = sheetsapi.SpreadsheetsScope
)

// Config configures a Log.
type Config struct {
	SpreadsheetID string
	Tab           string
	Timeout       time.Duration // of each call
}

// Log is the Google Sheets session log. It is safe for concurrent use.
type Log struct {
	cfg Config
	svc *sheetsapi.Service
}

// New returns a Log. opts carry the credentials and, for staging and tests, the
// endpoint (option.WithEndpoint).
func New(ctx context.Context, cfg Config, opts ...option.ClientOption) (*Log, error) {
	svc, err := sheetsapi.NewService(ctx, opts...)
	if err != nil {
		return nil, errors.New("sheets: client setup failed")
	}
	return &Log{cfg: cfg, svc: svc}, nil
}

// Record writes the session's row: an update of its row when the sheet has one, an
// append otherwise. A record older than what the row holds is dropped, so that a late
// retry never puts an earlier status back. An empty sheet gets the header row first.
func (l *Log) Record(ctx context.Context, r activities.LogRow) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	values := l.svc.Spreadsheets.Values

	header, err := l.get(ctx, rangeOf(l.cfg.Tab, "1:1"))
	if err != nil {
		return err
	}
	if len(header) == 0 || len(header[0]) == 0 {
		header = [][]any{toAny(sink.LogColumns)}
		_, err := values.Update(l.cfg.SpreadsheetID, rangeOf(l.cfg.Tab, "A1"),
			&sheetsapi.ValueRange{Values: header}).ValueInputOption("RAW").Context(ctx).Do()
		if err != nil {
			return classify(err)
		}
	}
	cols := map[string]int{}
	for i, h := range header[0] {
		cols[strings.TrimSpace(strings.ToLower(cellText(h)))] = i
	}
	idCol, ok := cols["session_id"]
	if !ok {
		return vendor.Permanent(name, opLog, "sheet has no session_id column")
	}

	ids, err := l.get(ctx, rangeOf(l.cfg.Tab, colName(idCol)+":"+colName(idCol)))
	if err != nil {
		return err
	}
	rowNum := 0
	for i, v := range ids {
		if i > 0 && len(v) > 0 && cellText(v[0]) == r.SessionID {
			rowNum = i + 1
			break
		}
	}

	cells := make([]any, len(header[0]))
	for col, v := range cellsOf(r) {
		if i, ok := cols[col]; ok {
			cells[i] = v
		}
	}
	body := &sheetsapi.ValueRange{Values: [][]any{cells}}
	if rowNum == 0 {
		_, err = values.Append(l.cfg.SpreadsheetID, rangeOf(l.cfg.Tab, "A1"), body).
			ValueInputOption("RAW").InsertDataOption("INSERT_ROWS").Context(ctx).Do()
		return classify(err)
	}

	if tsCol, ok := cols["timestamp"]; ok {
		cell := colName(tsCol) + strconv.Itoa(rowNum)
		got, err := l.get(ctx, rangeOf(l.cfg.Tab, cell))
		if err != nil {
			return err
		}
		if len(got) > 0 && len(got[0]) > 0 {
			held, perr := time.Parse(time.RFC3339Nano, cellText(got[0][0]))
			if perr == nil && held.After(r.Timestamp) {
				return nil
			}
		}
	}
	row := strconv.Itoa(rowNum)
	_, err = values.Update(l.cfg.SpreadsheetID,
		rangeOf(l.cfg.Tab, "A"+row+":"+colName(len(cells)-1)+row), body).
		ValueInputOption("RAW").Context(ctx).Do()
	return classify(err)
}

func (l *Log) get(ctx context.Context, rng string) ([][]any, error) {
	vr, err := l.svc.Spreadsheets.Values.Get(l.cfg.SpreadsheetID, rng).Context(ctx).Do()
	if err != nil {
		return nil, classify(err)
	}
	return vr.Values, nil
}

// cellsOf is a record's cells by column name. The patient's email is masked and the
// links keep their host and path only, as in the local session log: the provider's
// link is a credential, and the sheet is read by more people than the session needs.
func cellsOf(r activities.LogRow) map[string]any {
	return map[string]any{
		"timestamp":            r.Timestamp.UTC().Format(time.RFC3339Nano),
		"session_id":           r.SessionID,
		"booking_id":           r.BookingID,
		"meeting_id":           r.MeetingID,
		"patient_email":        phi.MaskEmail(string(r.PatientEmail)),
		"meeting_url":          phi.RedactURL(r.MeetingURL),
		"provider_url":         phi.RedactURL(r.ProviderURL),
		"scheduled_start":      r.ScheduledStart.UTC().Format(time.RFC3339),
		"duration_minutes":     r.DurationMinutes,
		"encryption_enabled":   r.EncryptionEnabled,
		"waiting_room_enabled": r.WaitingRoomEnabled,
		"recording_enabled":    r.RecordingEnabled,
		"client_ip":            r.ClientIP,
		"status":               r.Status,
	}
}

// classify turns a Sheets API error into a vendor.Error. Google's error body is
// {"error":{"code","message","status"}}; its status name is kept.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		e := vendor.FromStatus(name, opLog, gerr.Code, gerr.Header, time.Now())
		if s := googleStatus(gerr); s != "" {
			e.Detail = s
		}
		return e
	}
	return vendor.Transport(name, opLog, err)
}

// googleStatus is the canonical status name of a Google API error (NOT_FOUND,
// PERMISSION_DENIED...), when its body had one.
func googleStatus(gerr *googleapi.Error) string {
	if len(gerr.Errors) > 0 && gerr.Errors[0].Reason != "" {
		return gerr.Errors[0].Reason
	}
	if gerr.Code == http.StatusNotFound {
		return "NOT_FOUND"
	}
	return ""
}

// rangeOf is an A1 range on the tab; the tab's name is quoted.
func rangeOf(tab, cells string) string {
	return "'" + strings.ReplaceAll(tab, "'", "''") + "'!" + cells
}

// colName is a column's letters: 0 is A, 25 Z, 26 AA.
func colName(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}

func cellText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
