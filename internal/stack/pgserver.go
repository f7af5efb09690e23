package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"text/template"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// PGOptions locate the Temporal server, its SQL tool and schema, and PostgreSQL.
type PGOptions struct {
	ServerBin string // temporal-server, built by go install go.temporal.io/server/cmd/server
	SQLTool   string // temporal-sql-tool
	SchemaDir string // the server module's schema/postgresql/v12
	Template  string // deploy/temporal/postgres.yaml.tmpl
	Dynamic   string // a dynamic config file
	PGAddr    string // host:port
	User      string
	Password  string
}

// PGServer is the Temporal server on PostgreSQL, on databases of its own that Drop
// removes.
type PGServer struct {
	*Proc
	Addr string
	opts PGOptions
	dbs  []string
}

// StartPGServer creates two databases (history and visibility) with the server's
// schema, starts the server on free loopback ports with its files in dir, registers
// the default namespace and waits until it serves it.
func StartPGServer(ctx context.Context, o PGOptions, dir string) (*PGServer, error) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	db := "temporal_bench_" + hex.EncodeToString(suffix)
	s := &PGServer{opts: o}
	for _, d := range []struct{ name, schema string }{
		{db, "temporal"}, {db + "_visibility", "visibility"},
	} {
		s.dbs = append(s.dbs, d.name)
		versioned := filepath.Join(o.SchemaDir, d.schema, "versioned")
		for _, args := range [][]string{
			{"create-database"},
			{"setup-schema", "-v", "0.0"},
			{"update-schema", "-d", versioned},
		} {
			if err := s.tool(ctx, d.name, args...); err != nil {
				s.Drop()
				return nil, err
			}
		}
	}
	if err := s.start(ctx, dir, db); err != nil {
		s.Drop()
		return nil, err
	}
	return s, nil
}

func (s *PGServer) start(ctx context.Context, dir, db string) error {
	ports := map[string]int{}
	for _, name := range []string{"FrontendPort", "FrontendMembershipPort", "HTTPPort",
		"MatchingPort", "MatchingMembershipPort", "HistoryPort", "HistoryMembershipPort",
		"WorkerPort", "WorkerMembershipPort", "MetricsPort"} {
		p, err := FreeLowPort()
		if err != nil {
			return err
		}
		ports[name] = p
	}
	values := map[string]any{"DB": db, "VisibilityDB": db + "_visibility",
		"PGAddr": s.opts.PGAddr, "PGUser": s.opts.User, "PGPassword": s.opts.Password,
		"DynamicConfig": s.opts.Dynamic}
	for k, v := range ports {
		values[k] = v
	}
	tmpl, err := template.ParseFiles(s.opts.Template)
	if err != nil {
		return fmt.Errorf("temporal server config: %w", err)
	}
	confDir := filepath.Join(dir, "pgconfig")
	if err := os.MkdirAll(confDir, 0o700); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(confDir, "bench.yaml"))
	if err != nil {
		return err
	}
	err = tmpl.Execute(f, values)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("temporal server config: %w", err)
	}

	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports["FrontendPort"]))
	logPath := filepath.Join(dir, "temporal-server.log")
	s.Proc, err = Start("temporal-server", s.opts.ServerBin, []string{"--root", dir,
		"--config", "pgconfig", "--env", "bench", "--allow-no-auth", "start"}, nil, logPath)
	if err != nil {
		return err
	}
	c, err := DialWait(ctx, s.Addr, s.Exited)
	if err != nil {
		s.Kill()
		return fmt.Errorf("%w\n%s", err, Tail(logPath, 10))
	}
	defer c.Close()
	return registerDefault(ctx, c)
}

// registerDefault registers the default namespace and waits, up to 30 s, for the
// frontend's namespace cache to serve it.
func registerDefault(ctx context.Context, c client.Client) error {
	_, err := c.WorkflowService().RegisterNamespace(ctx,
		&workflowservice.RegisterNamespaceRequest{
			Namespace:                        "default",
			WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
		})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.WorkflowService().ListOpenWorkflowExecutions(ctx,
			&workflowservice.ListOpenWorkflowExecutionsRequest{Namespace: "default"})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace default not served: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Drop stops the server, if it runs, and drops its databases.
func (s *PGServer) Drop() {
	if s.Proc != nil && !s.Exited() {
		s.Stop(15 * time.Second)
	}
	for _, db := range s.dbs {
		_ = s.tool(context.Background(), db, "drop-database", "-f")
	}
}

func (s *PGServer) tool(ctx context.Context, db string, args ...string) error {
	host, port, err := net.SplitHostPort(s.opts.PGAddr)
	if err != nil {
		return fmt.Errorf("postgres address: %w", err)
	}
	full := []string{"--plugin", "postgres12", "--ep", host, "-p", port,
		"-u", s.opts.User, "--db", db}
	if s.opts.Password != "" {
		full = append(full, "--pw", s.opts.Password)
	}
	out, err := exec.CommandContext(ctx, s.opts.SQLTool, append(full, args...)...).
		CombinedOutput()
	if err != nil {
		return fmt.Errorf("temporal-sql-tool %s %v: %w\n%s", db, args, err, out)
	}
	return nil
}
