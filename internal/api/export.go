package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/telehealth/sessions/internal/analytics"
	"github.com/telehealth/sessions/internal/audit"
	"github.com/telehealth/sessions/workflows"
)

// Bounds of the attendance export and the analytics.
const (
	// MaxExportSessions is the most rows one attendance export holds; a range with
	// more is a 400 asking for a narrower one.
	MaxExportSessions = 1000
	// MaxExportSpan is the longest range one export covers.
	MaxExportSpan = 92 * 24 * time.Hour
)

// Keys a handler sets for its audit entry: auditActionKey overrides the action it
// records, auditDetailKey is its detail (never PHI).
const (
	auditActionKey = "audit_action"
	auditDetailKey = "audit_detail"
)

// auditRange records a report's range, and the rows it returned when rows >= 0, in
// the request's audit entry.
func auditRange(c *gin.Context, r analytics.Range, rows int) {
	d := "from=" + r.From.Format(time.RFC3339) + " to=" + r.To.Format(time.RFC3339)
	if rows >= 0 {
		d += " rows=" + strconv.Itoa(rows)
	}
	c.Set(auditDetailKey, d)
}

// Reports is what the attendance export and the analytics need of the workflow
// engine. A Sessions that also implements it gets GET /attendance.csv and
// GET /analytics.
type Reports interface {
	// ReportSessions lists the sessions scheduled in r, by scheduled start; more than
	// limit is an *analytics.TooManyError.
	ReportSessions(ctx context.Context, r analytics.Range, limit int) (
		[]analytics.Session, error)
	// PatientContacts reads the sessions' patients' names and emails, in the
	// sessions' order: PHI.
	PatientContacts(ctx context.Context, s []analytics.Session) ([]analytics.Contact,
		error)
}

// reportRoutes adds the export and analytics routes when the engine serves them.
func (s *Server) reportRoutes(authed *gin.RouterGroup) {
	if _, ok := s.sessions.(Reports); !ok {
		return
	}
	authed.GET("/attendance.csv", s.exportAttendance)
	authed.GET("/analytics", s.analytics)
}

// phiKeyIDs are the key ids (KeyID) of the keys allowed to see PHI.
func phiKeyIDs(keys []string) map[string]bool {
	ids := map[string]bool{}
	for _, k := range keys {
		ids[KeyID(sha256.Sum256([]byte(strings.TrimSpace(k))))] = true
	}
	return ids
}

// seesPHI reports whether the request's key is allowed to see PHI. Without keys
// (anonymous) no one is.
func (s *Server) seesPHI(c *gin.Context) bool {
	return s.phiKeys[c.GetString(actorKey)]
}

// exportColumns is the header of the attendance CSV.
var exportColumns = []string{
	"session_id", "status", "provider_id", "patient", "patient_email",
	"scheduled_start", "scheduled_end", "duration_minutes",
	"actual_start", "actual_end", "actual_minutes",
	"wait_seconds", "waiting_room_stays", "billable_seconds", "billable_minutes",
	"no_show", "waiting_room_abandoned", "cancel_reason",
	"provider_intervals", "provider_seconds", "patient_intervals", "patient_seconds",
	"other_intervals", "other_seconds", "as_of",
}

// exportAttendance is GET /attendance.csv?from=&to=: one row per session scheduled in
// [from, to), the attendance route's fields. The patient is masked, unless the key may
// see PHI: then the name and email are read from each session's sealed input. The
// audit entry says which (action "export" or "export phi"), and its detail holds the
// range and the row count; nothing of a row is logged.
func (s *Server) exportAttendance(c *gin.Context) {
	withPHI := s.seesPHI(c)
	c.Set(auditActionKey, audit.ActionExport)
	if withPHI {
		c.Set(auditActionKey, audit.ActionExportPHI)
	}
	r, problems := analytics.ParseRange(c.Query("from"), c.Query("to"), MaxExportSpan)
	if len(problems) > 0 {
		s.invalid(c, problems)
		return
	}
	auditRange(c, r, -1)
	sessions, ok := s.reportSessions(c, r, MaxExportSessions)
	if !ok {
		return
	}
	auditRange(c, r, len(sessions))
	var contacts []analytics.Contact
	if withPHI {
		var err error
		contacts, err = s.sessions.(Reports).PatientContacts(c.Request.Context(), sessions)
		if err != nil {
			s.internal(c, fmt.Errorf("export attendance: %w", err))
			return
		}
	}
	body, err := attendanceCSV(sessions, contacts, withPHI)
	if err != nil {
		s.internal(c, fmt.Errorf("export attendance: %w", err))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Disposition", fmt.Sprintf(
		`attachment; filename="attendance-%s-%s.csv"`,
		r.From.Format("20060102T150405Z"), r.To.Format("20060102T150405Z")))
	c.Header("X-PHI-Included", strconv.FormatBool(withPHI))
	c.Header("X-Export-Rows", strconv.Itoa(len(sessions)))
	c.Data(http.StatusOK, "text/csv; charset=utf-8", body)
}

// reportSessions lists the range's sessions, answering a range that holds too many
// (400) or an engine fault; it reports whether the list is there.
func (s *Server) reportSessions(c *gin.Context, r analytics.Range, limit int) (
	[]analytics.Session, bool) {
	sessions, err := s.sessions.(Reports).ReportSessions(c.Request.Context(), r, limit)
	var tooMany *analytics.TooManyError
	switch {
	case errors.As(err, &tooMany):
		s.invalid(c, []string{fmt.Sprintf(
			"the range holds more than %d sessions: narrow it", tooMany.Limit)})
		return nil, false
	case err != nil:
		s.internal(c, err)
		return nil, false
	}
	return sessions, true
}

// attendanceCSV writes the rows; contacts[i] is sessions[i]'s patient when withPHI.
func attendanceCSV(sessions []analytics.Session, contacts []analytics.Contact,
	withPHI bool) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(exportColumns); err != nil {
		return nil, err
	}
	for i, sess := range sessions {
		patient, email := sess.PatientMasked, ""
		if withPHI {
			patient, email = string(contacts[i].Name), string(contacts[i].Email)
		}
		prov := sess.Role(workflows.RoleProvider)
		pat := sess.Role(workflows.RolePatient)
		oth := sess.Role(workflows.RoleOther)
		row := []string{
			sess.SessionID, string(sess.Status), sess.ProviderID, patient, email,
			stampOf(&sess.ScheduledStart), stampOf(&sess.ScheduledEnd),
			itoa(sess.DurationMinutes),
			stampOf(sess.ActualStart), stampOf(sess.ActualEnd), itoa(sess.ActualMinutes),
			itoa(sess.WaitSeconds), itoa(sess.WaitStays),
			itoa(sess.BillableSeconds), itoa(sess.BillableMinutes),
			strconv.FormatBool(sess.NoShow), strconv.FormatBool(sess.Abandoned),
			string(sess.CancelReason),
			itoa(prov.Intervals), itoa(prov.Seconds), itoa(pat.Intervals),
			itoa(pat.Seconds), itoa(oth.Intervals), itoa(oth.Seconds),
			stampOf(&sess.AsOf),
		}
		for j := range row {
			row[j] = SafeCell(row[j])
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// SafeCell defuses a cell that a spreadsheet would read as a formula (OWASP's CSV
// injection advice): one that starts with =, +, -, @, a tab or a carriage return gets
// a leading apostrophe. Names and emails come from booking systems, so every text
// cell passes through it.
func SafeCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func stampOf(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func itoa(n int) string { return strconv.Itoa(n) }
