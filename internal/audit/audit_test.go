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
	assert.True(t, strings.HasPrefix(lines[0], "seq,time,actor,client_ip,session_id"))
	assert.Contains(t, lines[1], "SESSION-0")
	assert.Len(t, strings.Split(strings.TrimSpace(j.String()), "\n"), 2)
	assert.Contains(t, j.String(), `"action":"view"`)
}
