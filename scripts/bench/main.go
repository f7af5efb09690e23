// Command bench is the load benchmark behind make bench. On loopback only, it starts
// the embedded stack (the Temporal dev server on its file database, the worker with
// its video sandbox, the API), measures the engine's own floor and throughput on that
// server, then the service's create latency, sustained rate and memory, prints each
// figure and ends with one key=value summary line. It is bounded in count and time and
// stops everything it started.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/telehealth/sessions/internal/stack"
)

// options are the benchmark's knobs; the defaults are what make bench runs.
type options struct {
	temporal string        // the Temporal CLI
	bin      string        // folder with the worker and starter binaries
	clients  int           // concurrent clients of the loaded phases
	single   int           // creates measured one at a time
	multi    int           // creates measured at clients concurrency
	floor    int           // engine floor calls per concurrency
	trivial  time.Duration // trivial-workflow throughput window
	sustain  time.Duration // sustained-rate window
	sleeping int           // sessions asleep when memory is read
	webhooks int           // platform webhooks measured
	keep     bool          // keep the work folder
	dynamic  []string      // the dev server's dynamic configuration, key=value
	engines  string        // comma-separated: dev, postgres
	pg       stack.PGOptions
}

func main() {
	var o options
	flag.StringVar(&o.temporal, "temporal", os.Getenv("TEMPORAL"), "Temporal CLI binary")
	flag.StringVar(&o.bin, "bin", "bin", "folder with the worker and starter binaries")
	flag.IntVar(&o.clients, "clients", 8, "concurrent clients")
	flag.IntVar(&o.single, "single", 50, "creates measured with one client")
	flag.IntVar(&o.multi, "multi", 400, "creates measured with -clients clients")
	flag.IntVar(&o.floor, "floor", 200, "engine floor calls at each concurrency")
	flag.DurationVar(&o.trivial, "trivial", 20*time.Second, "trivial-workflow window")
	flag.DurationVar(&o.sustain, "sustain", 60*time.Second, "sustained-rate window")
	flag.IntVar(&o.sleeping, "sleeping", 2000, "sessions asleep when memory is read")
	flag.IntVar(&o.webhooks, "webhooks", 500, "platform webhooks measured")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder (logs, databases)")
	flag.StringVar(&o.engines, "engines", "dev", "engines to measure: dev,postgres")
	flag.StringVar(&o.pg.ServerBin, "pg-server", "", "temporal-server binary (postgres)")
	flag.StringVar(&o.pg.SQLTool, "pg-sql-tool", "", "temporal-sql-tool binary (postgres)")
	flag.StringVar(&o.pg.SchemaDir, "pg-schema", "", "the server module's schema/postgresql/v12")
	flag.StringVar(&o.pg.Template, "pg-config", "deploy/temporal/postgres.yaml.tmpl",
		"the server's config template")
	flag.StringVar(&o.pg.Dynamic, "pg-dynamic-config", "deploy/temporal/dynamicconfig.yaml",
		"the server's dynamic config")
	flag.StringVar(&o.pg.PGAddr, "pg-addr", cmp.Or(os.Getenv("PGADDR"), "127.0.0.1:5432"),
		"PostgreSQL host:port")
	flag.StringVar(&o.pg.User, "pg-user", cmp.Or(os.Getenv("PGUSER"), "postgres"),
		"PostgreSQL user that may create databases")
	o.pg.Password = os.Getenv("PGPASSWORD")
	flag.Func("dynamic-config",
		"a dev server dynamic config key=value beyond make run's (repeatable)",
		func(v string) error { o.dynamic = append(o.dynamic, v); return nil })
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Bounded: whatever happens, the run ends.
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.temporal == "" {
		return fmt.Errorf("no Temporal CLI: pass -temporal or set TEMPORAL")
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	o.bin = bin
	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	printMachine()

	if o.pg.Dynamic, err = filepath.Abs(o.pg.Dynamic); err != nil {
		return err
	}
	var all []*figures
	for i, name := range strings.Split(o.engines, ",") {
		sub := filepath.Join(dir, name)
		if err := os.MkdirAll(sub, 0o700); err != nil {
			return err
		}
		if i > 0 {
			printMachine()
		}
		f, err := measure(ctx, o, sub, strings.TrimSpace(name))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		f.print()
		all = append(all, f)
	}
	if len(all) > 1 {
		sideBySide(all)
	}
	for _, f := range all {
		fmt.Println(f.summary())
	}
	return nil
}

// printMachine prints what the figures were measured on.
func printMachine() {
	host, _ := os.Hostname()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("machine: %s, %d cpu, load %s\n", host, numCPU(),
		strings.Join(strings.Fields(string(load))[:3], " "))
}
