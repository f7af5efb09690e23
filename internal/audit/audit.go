// Package audit is the append-only access log: every create, view, launch, signal,
// update, export and received webhook, with its time, actor (API key id), client ip,
// session id, action and outcome. Each entry carries the hash of the one before it, so
// Verify detects an entry edited or deleted after the fact. Entries live in an embedded
// SQLite file by default (modernc.org/sqlite, no cgo), or in PostgreSQL.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // SQLite driver "sqlite"
)

// Actions recorded.
const (
	ActionCreate = "create"
	ActionView   = "view"
	ActionLaunch = "launch"
	ActionSignal = "signal"
	ActionUpdate = "update"
	ActionExport = "export"
	// ActionExportPHI is an export that carried PHI (the unmasked attendance CSV).
	ActionExportPHI = "export phi"
	ActionWebhook   = "webhook received"
)

// Entry is one audit record. Seq, PrevHash and Hash are set by Append.
type Entry struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	ClientIP  string    `json:"client_ip"`
	SessionID string    `json:"session_id"`
	Action    string    `json:"action"`
	Outcome   string    `json:"outcome"`
	// Detail is what an action covered beyond one session (an export's range and
	// rows); never PHI. Empty on most entries, and then left out of the hash, so
	// entries written before it existed still verify.
	Detail   string `json:"detail,omitempty"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// genesis is the previous hash of the first entry.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// sum is the entry's hash over its previous hash and every field, JSON-encoded so that
// no two different entries share an encoding.
func (e Entry) sum() string {
	fields := []any{e.PrevHash, e.Seq, e.Time.UTC().Format(time.RFC3339Nano),
		e.Actor, e.ClientIP, e.SessionID, e.Action, e.Outcome}
	if e.Detail != "" {
		fields = append(fields, e.Detail)
	}
	b, _ := json.Marshal(fields)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Log is an audit log on a database.
type Log struct {
	db       *sql.DB
	postgres bool
	mu       sync.Mutex // SQLite: one writer in this process
}

// OpenSQLite opens (creating) the audit log in a SQLite file.
func OpenSQLite(ctx context.Context, path string) (*Log, error) {
	db, err := sql.Open("sqlite", "file:"+path+
		"?_pragma=journal_mode(wal)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("audit: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	return open(ctx, db, false)
}

// OpenPostgres opens the audit log in PostgreSQL at a postgres:// URL.
func OpenPostgres(ctx context.Context, url string) (*Log, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("audit: open postgres: %w", err)
	}
	return open(ctx, db, true)
}

func open(ctx context.Context, db *sql.DB, postgres bool) (*Log, error) {
	l := &Log{db: db, postgres: postgres}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS audit_log (
		seq BIGINT PRIMARY KEY,
		at TEXT NOT NULL,
		actor TEXT NOT NULL,
		client_ip TEXT NOT NULL,
		session_id TEXT NOT NULL,
		action TEXT NOT NULL,
		outcome TEXT NOT NULL,
		prev_hash TEXT NOT NULL,
		hash TEXT NOT NULL,
		detail TEXT NOT NULL DEFAULT '')`); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("audit: create table: %w", err)
	}
	if err := l.addDetail(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return l, nil
}

// addDetail adds the detail column to a log created before it existed.
func (l *Log) addDetail(ctx context.Context) error {
	const column = "detail TEXT NOT NULL DEFAULT ''"
	add := "ALTER TABLE audit_log ADD COLUMN " + column
	switch {
	case l.postgres:
		// Several processes may open the log at once: the server checks.
		add = "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS " + column
	default:
		// SQLite has no IF NOT EXISTS here; one process holds its file.
		_, err := l.db.ExecContext(ctx, "SELECT detail FROM audit_log LIMIT 0")
		if err == nil {
			return nil
		}
	}
	if _, err := l.db.ExecContext(ctx, add); err != nil {
		return fmt.Errorf("audit: add detail: %w", err)
	}
	return nil
}

// Close closes the database.
func (l *Log) Close() error { return l.db.Close() }

// q rewrites ? placeholders for PostgreSQL.
func (l *Log) q(query string) string {
	if !l.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Append records e after the last entry, chained to it. Appends are serialised: in
// this process by a mutex, across processes on PostgreSQL by an advisory lock.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	return l.append(ctx, e, false)
}

// AppendOnce is Append for a retried append whose first try may have gone through:
// when an entry with e's session id, action and outcome is in the log already, it
// returns that entry and appends nothing. It reads the whole log: for retries only.
func (l *Log) AppendOnce(ctx context.Context, e Entry) (Entry, error) {
	return l.append(ctx, e, true)
}

func (l *Log) append(ctx context.Context, e Entry, once bool) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if l.postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(5005)"); err != nil {
			return Entry{}, fmt.Errorf("audit: lock: %w", err)
		}
	}
	if once {
		found, ok, err := l.find(ctx, tx, e)
		if err != nil || ok {
			return found, err
		}
	}
	e.Seq, e.PrevHash = 1, genesis
	var seq int64
	var prev string
	err = tx.QueryRowContext(ctx,
		"SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&seq, &prev)
	switch {
	case err == nil:
		e.Seq, e.PrevHash = seq+1, prev
	case !errors.Is(err, sql.ErrNoRows):
		return Entry{}, fmt.Errorf("audit: last entry: %w", err)
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.Hash = e.sum()
	if _, err := tx.ExecContext(ctx, l.q(`INSERT INTO audit_log
		(seq, at, actor, client_ip, session_id, action, outcome, prev_hash, hash, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.Seq, e.Time.Format(time.RFC3339Nano), e.Actor, e.ClientIP, e.SessionID,
		e.Action, e.Outcome, e.PrevHash, e.Hash, e.Detail); err != nil {
		return Entry{}, fmt.Errorf("audit: insert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Entry{}, fmt.Errorf("audit: commit: %w", err)
	}
	return e, nil
}

// find returns the first entry with e's session id, action and outcome, if any.
func (l *Log) find(ctx context.Context, tx *sql.Tx, e Entry) (Entry, bool, error) {
	var f Entry
	var at string
	err := tx.QueryRowContext(ctx, l.q(`SELECT seq, at, actor, client_ip, session_id,
		action, outcome, prev_hash, hash, detail FROM audit_log
		WHERE session_id = ? AND action = ? AND outcome = ? ORDER BY seq LIMIT 1`),
		e.SessionID, e.Action, e.Outcome).Scan(&f.Seq, &at, &f.Actor, &f.ClientIP,
		&f.SessionID, &f.Action, &f.Outcome, &f.PrevHash, &f.Hash, &f.Detail)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Entry{}, false, nil
	case err != nil:
		return Entry{}, false, fmt.Errorf("audit: find entry: %w", err)
	}
	if f.Time, err = time.Parse(time.RFC3339Nano, at); err != nil {
		return Entry{}, false, fmt.Errorf("audit: entry %d: bad time", f.Seq)
	}
	return f, true, nil
}

// Each calls fn with every entry in order.
func (l *Log) Each(ctx context.Context, fn func(Entry) error) error {
	rows, err := l.db.QueryContext(ctx, `SELECT seq, at, actor, client_ip, session_id,
		action, outcome, prev_hash, hash, detail FROM audit_log ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("audit: read: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Entry
		var at string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.ClientIP, &e.SessionID,
			&e.Action, &e.Outcome, &e.PrevHash, &e.Hash, &e.Detail); err != nil {
			return fmt.Errorf("audit: read: %w", err)
		}
		if e.Time, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return fmt.Errorf("audit: entry %d: bad time", e.Seq)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ErrTampered is returned by Verify for a chain that an edit or deletion broke.
var ErrTampered = errors.New("audit: chain broken")

// Verify walks the chain and returns how many entries it checked. An edited entry no
// longer matches its hash; a deleted one leaves a gap in the sequence or a previous
// hash that matches nothing. (Deleting the newest entries leaves a shorter valid
// chain: compare the count with an exported copy.)
func (l *Log) Verify(ctx context.Context) (int, error) {
	n, prev := 0, genesis
	err := l.Each(ctx, func(e Entry) error {
		n++
		switch {
		case e.Seq != int64(n):
			return fmt.Errorf("%w: entry %d missing", ErrTampered, n)
		case e.PrevHash != prev:
			return fmt.Errorf("%w: entry %d does not follow entry %d", ErrTampered, e.Seq, n-1)
		case e.sum() != e.Hash:
			return fmt.Errorf("%w: entry %d was altered", ErrTampered, e.Seq)
		}
		prev = e.Hash
		return nil
	})
	return n, err
}
