package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/audit"
)

// logs returns the audit log on SQLite, and on this machine's PostgreSQL in a
// database of the test's own, dropped afterwards.
func logs(t *testing.T) map[string]struct {
	log *audit.Log
	db  *sql.DB
} {
	t.Helper()
	out := map[string]struct {
		log *audit.Log
		db  *sql.DB
	}{}
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := audit.OpenSQLite(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	raw, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	out["sqlite"] = struct {
		log *audit.Log
		db  *sql.DB
	}{l, raw}

	admin, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("audit_test_%d", time.Now().UnixNano())
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err, "PostgreSQL at 127.0.0.1:5432")
	url := "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"
	pl, err := audit.OpenPostgres(t.Context(), url)
	require.NoError(t, err)
	pdb, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() {
		pl.Close()
		pdb.Close()
		_, _ = admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
	})
	out["postgres"] = struct {
		log *audit.Log
		db  *sql.DB
	}{pl, pdb}
	return out
}

func appendN(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for i := range n {
		_, err := l.Append(context.Background(), audit.Entry{
			Time: time.Now(), Actor: "key-1a2b", ClientIP: "10.0.0.1",
			SessionID: fmt.Sprintf("SESSION-%d", i), Action: audit.ActionView, Outcome: "200",
		})
		require.NoError(t, err)
	}
}

func TestChainVerifiesThenFailsAfterAnEdit(t *testing.T) {
	for name, s := range logs(t) {
		t.Run(name, func(t *testing.T) {
			appendN(t, s.log, 5)
			n, err := s.log.Verify(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 5, n)

			_, err = s.db.Exec("UPDATE audit_log SET outcome = '403' WHERE seq = 3")
			require.NoError(t, err)
			_, err = s.log.Verify(t.Context())
			assert.ErrorIs(t, err, audit.ErrTampered)
			assert.ErrorContains(t, err, "entry 3 was altered")
		})
	}
}

func TestVerifyFailsAfterADeletion(t *testing.T) {
	for name, s := range logs(t) {
		t.Run(name, func(t *testing.T) {
			appendN(t, s.log, 4)
			_, err := s.db.Exec("DELETE FROM audit_log WHERE seq = 2")
			require.NoError(t, err)
			_, err = s.log.Verify(t.Context())
			assert.ErrorIs(t, err, audit.ErrTampered)

			// Renumbering to hide the gap breaks the chain instead.
			_, err = s.db.Exec("UPDATE audit_log SET seq = seq - 1 WHERE seq > 2")
			require.NoError(t, err)
			_, err = s.log.Verify(t.Context())
			assert.ErrorContains(t, err, "does not follow")
		})
	}
}

func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	for name, s := range logs(t) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { appendN(t, s.log, 5) })
			}
			wg.Wait()
			n, err := s.log.Verify(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 20, n)
		})
	}
}

func TestExports(t *testing.T) {
	s := logs(t)["sqlite"]
	appendN(t, s.log, 2)
	var c, j bytes.Buffer
	require.NoError(t, s.log.WriteCSV(t.Context(), &c))
	require.NoError(t, s.log.WriteJSONL(t.Context(), &j))
	lines := strings.Split(strings.TrimSpace(c.String()), "\n")
	assert.Len(t, lines, 3)
	assert.Equal(t, "seq,time,actor,client_ip,session_id,action,outcome,prev_hash,hash,detail",
		lines[0])
	assert.Contains(t, lines[1], "SESSION-0")
	assert.Len(t, strings.Split(strings.TrimSpace(j.String()), "\n"), 2)
	assert.Contains(t, j.String(), `"action":"view"`)
}

// viewEntry is an entry without detail; its hash, as the first entry of a log, was
// computed by the code before detail existed.
var viewEntry = audit.Entry{
	Time:  time.Date(2026, 12, 1, 9, 30, 0, 123456000, time.UTC),
	Actor: "key-0123456789abcdef", ClientIP: "10.0.0.1", SessionID: "SESSION-1",
	Action: audit.ActionView, Outcome: "200",
}

const viewEntryHash = "9f6646cefa05178100ae0684ce8d4cfe72b3164b1e6d73d894fbfc1af0d277fd"

func TestDetailIsChainedAndEntriesWithoutItKeepTheirHash(t *testing.T) {
	for name, s := range logs(t) {
		t.Run(name, func(t *testing.T) {
			first, err := s.log.Append(t.Context(), viewEntry)
			require.NoError(t, err)
			assert.Equal(t, viewEntryHash, first.Hash)

			export := viewEntry
			export.SessionID, export.Action = "", audit.ActionExport
			export.Detail = "from=2030-01-01T00:00:00Z to=2030-01-08T00:00:00Z rows=2"
			second, err := s.log.Append(t.Context(), export)
			require.NoError(t, err)
			export.Detail = ""
			_, err = s.log.Append(t.Context(), export)
			require.NoError(t, err)

			var got []audit.Entry
			require.NoError(t, s.log.Each(t.Context(), func(e audit.Entry) error {
				got = append(got, e)
				return nil
			}))
			require.Len(t, got, 3)
			assert.Equal(t, second.Detail, got[1].Detail)
			assert.Empty(t, got[2].Detail)
			n, err := s.log.Verify(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 3, n)

			_, err = s.db.Exec("UPDATE audit_log SET detail = 'rows=0' WHERE seq = 2")
			require.NoError(t, err)
			_, err = s.log.Verify(t.Context())
			assert.ErrorContains(t, err, "entry 2 was altered")
		})
	}
}

func TestOpenAddsDetailToALogWrittenBeforeIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	// The table and first entry as the code before detail wrote them.
	_, err = raw.Exec(`CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, at TEXT NOT NULL,
		actor TEXT NOT NULL, client_ip TEXT NOT NULL, session_id TEXT NOT NULL,
		action TEXT NOT NULL, outcome TEXT NOT NULL, prev_hash TEXT NOT NULL,
		hash TEXT NOT NULL)`)
	require.NoError(t, err)
	_, err = raw.Exec(`INSERT INTO audit_log VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)`,
		viewEntry.Time.Format(time.RFC3339Nano), viewEntry.Actor, viewEntry.ClientIP,
		viewEntry.SessionID, viewEntry.Action, viewEntry.Outcome, strings.Repeat("0", 64),
		viewEntryHash)
	require.NoError(t, err)

	for range 2 { // the second open finds the column there
		l, err := audit.OpenSQLite(t.Context(), path)
		require.NoError(t, err)
		_, err = l.Append(t.Context(), audit.Entry{Time: time.Now(), Actor: "key-1",
			Action: audit.ActionExport, Outcome: "200", Detail: "rows=1"})
		require.NoError(t, err)
		require.NoError(t, l.Close())
	}
	l, err := audit.OpenSQLite(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	n, err := l.Verify(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 3, n)
}

func TestAppendOnceAppendsARetriedEntryOnce(t *testing.T) {
	for name, l := range logs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			at := time.Date(2033, 1, 2, 3, 4, 5, 0, time.UTC)
			e := audit.Entry{Time: at, Actor: "recording-retention", SessionID: "S-1",
				Action: "delete recording", Outcome: "deleted rec-1"}
			first, err := l.log.Append(ctx, e)
			require.NoError(t, err)
			_, err = l.log.Append(ctx, audit.Entry{Time: at, Actor: "k", SessionID: "S-1",
				Action: audit.ActionView, Outcome: "200"})
			require.NoError(t, err)

			again, err := l.log.AppendOnce(ctx, e)
			require.NoError(t, err)
			assert.Equal(t, first, again, "the first try's entry")
			other := e
			other.Outcome = "deleted rec-2"
			added, err := l.log.AppendOnce(ctx, other)
			require.NoError(t, err)
			assert.Equal(t, int64(3), added.Seq, "another recording is appended")

			n, err := l.log.Verify(ctx)
			require.NoError(t, err)
			assert.Equal(t, 3, n)
		})
	}
}
