package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/telehealth/sessions/internal/stack"
)

// figures is everything one run measures.
type figures struct {
	engine string

	floor1, floorN   stats   // trivial update-with-start, 1 and N clients
	trivialRate      float64 // trivial workflows completed per second, N clients
	create1, createN stats   // create-session over HTTP, 1 and N clients
	sustained        stats   // create-session over the sustained window
	sessionsPerS     float64
	statuses         map[int]int // non-200 answers over every create phase
	sleeping         int
	worker, server   stack.Memory
	api              stack.Memory
	clients          int
	cpu              string // CPU share of each process over the sustained window
	webhook          stats  // webhook-to-ack
	booker           *booker
}

func numCPU() int { return runtime.NumCPU() }

// engine is the Temporal server one run measures.
type engine struct {
	name string
	proc *stack.Proc
	addr string
	stop func()
}

// startEngine starts the named engine with its files in dir: the dev server on its
// file database ("dev", as make run), or the Temporal server on PostgreSQL
// ("postgres", on databases it creates and drops).
func startEngine(ctx context.Context, o options, dir, name string) (*engine, error) {
	switch name {
	case "dev":
		var extra []string
		for _, kv := range o.dynamic {
			extra = append(extra, "--dynamic-config-value", kv)
		}
		srv, err := stack.StartDevServer(ctx, o.temporal, dir, extra...)
		if err != nil {
			return nil, err
		}
		return &engine{name: "dev-server-sqlite", proc: srv.Proc, addr: srv.Addr,
			stop: func() { srv.Stop(10 * time.Second) }}, nil
	case "postgres":
		srv, err := stack.StartPGServer(ctx, o.pg, dir)
		if err != nil {
			return nil, err
		}
		return &engine{name: "temporal-server-postgres", proc: srv.Proc, addr: srv.Addr,
			stop: srv.Drop}, nil
	}
	return nil, fmt.Errorf("unknown engine %q: dev or postgres", name)
}

// measure runs every phase against the stack on the named engine, in dir.
func measure(ctx context.Context, o options, dir, name string) (*figures, error) {
	eng, err := startEngine(ctx, o, dir, name)
	if err != nil {
		return nil, err
	}
	defer eng.stop()
	f := &figures{engine: eng.name, clients: o.clients, statuses: map[int]int{}}
	tc, err := stack.DialWait(ctx, eng.addr, eng.proc.Exited)
	if err != nil {
		return nil, err
	}
	defer tc.Close()
	fmt.Printf("engine: %s at %s\n", f.engine, eng.addr)

	if err := engineFigures(ctx, o, tc, f); err != nil {
		return nil, err
	}

	svc, err := stack.StartService(ctx, o.bin, eng.addr, dir,
		"ZOOM_WEBHOOK_SECRET_TOKEN="+webhookSecret,
		// Every client here is 127.0.0.1: the per-ip limit (10/s by default) would
		// answer 429 to the load itself. The limiter stays in the path, wide open.
		"RATE_LIMIT_PER_SECOND=100000", "RATE_LIMIT_BURST=100000")
	if err != nil {
		return nil, err
	}
	defer svc.Stop()
	if err := serviceFigures(ctx, o, eng.proc, svc, f, dir); err != nil {
		return nil, err
	}

	if f.worker, err = svc.Worker.Memory(); err != nil {
		return nil, err
	}
	heap := filepath.Join(dir, "worker-heap.pprof")
	if err := fetch(ctx, svc.WorkerURL+"/debug/pprof/heap", heap); err == nil {
		printTop("worker heap in use, top 12", heap, "-sample_index=inuse_space",
			"-nodecount=12")
	}
	if f.api, err = svc.API.Memory(); err != nil {
		return nil, err
	}
	if f.server, err = eng.proc.Memory(); err != nil {
		return nil, err
	}

	// Last, so that the sessions' memory above is of sleeping sessions only.
	if o.webhooks > 0 && len(f.booker.meetings) > 0 {
		if f.webhook, err = load(ctx, o.clients, o.webhooks, 0, f.booker.webhook); err != nil {
			return nil, err
		}
		fmt.Printf("webhook to ack (signed Zoom event, signal to its session): "+
			"%d clients %s\n", o.clients, f.webhook)
		merge(f.statuses, f.webhook.statuses)
	}
	return f, nil
}

// engineFigures measures the server alone, with a worker in this process: the floor
// (an update-with-start whose update returns at once) and trivial-workflow throughput.
func engineFigures(ctx context.Context, o options, tc client.Client, f *figures) error {
	queue := "bench-engine-" + uuid.NewString()[:8]
	w := worker.New(tc, queue, worker.Options{})
	w.RegisterWorkflow(floorWorkflow)
	w.RegisterWorkflow(noopWorkflow)
	if err := w.Start(); err != nil {
		return fmt.Errorf("engine worker: %w", err)
	}
	defer w.Stop()

	call := func(ctx context.Context, _ int) (int, error) {
		return 200, floorCall(ctx, tc, queue)
	}
	if _, err := load(ctx, 1, 10, 0, call); err != nil { // warm-up
		return err
	}
	var err error
	if f.floor1, err = load(ctx, 1, o.floor/4, 0, call); err != nil {
		return err
	}
	if f.floorN, err = load(ctx, o.clients, o.floor, 0, call); err != nil {
		return err
	}
	fmt.Printf("engine floor (trivial update-with-start): 1 client %s\n", f.floor1)
	fmt.Printf("engine floor (trivial update-with-start): %d clients %s\n",
		o.clients, f.floorN)

	noop := func(ctx context.Context, _ int) (int, error) {
		run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: "noop-" + uuid.NewString(), TaskQueue: queue,
		}, noopWorkflow)
		if err == nil {
			err = run.Get(ctx, nil)
		}
		return 200, err
	}
	s, err := load(ctx, o.clients, 0, o.trivial, noop)
	if err != nil {
		return err
	}
	f.trivialRate = s.rate()
	fmt.Printf("trivial workflows: %d clients, %.1f/s over %s (%d errors)\n",
		o.clients, f.trivialRate, o.trivial, s.errors)
	if s.firstErr != nil {
		fmt.Printf("  first error: %v\n", s.firstErr)
	}
	return nil
}

// serviceFigures measures the service through its API.
func serviceFigures(
	ctx context.Context,
	o options,
	server *stack.Proc,
	svc *stack.Service,
	f *figures,
	dir string,
) error {
	procs := []*stack.Proc{server, svc.Worker, svc.API}
	b := newBooker(svc.URL, o.clients)
	f.booker = b
	if err := warmUp(ctx, b); err != nil {
		return err
	}
	var err error
	if f.create1, err = load(ctx, 1, o.single, 0, b.create); err != nil {
		return err
	}
	fmt.Printf("create session: 1 client %s\n", f.create1)
	if f.createN, err = load(ctx, o.clients, o.multi, 0, b.create); err != nil {
		return err
	}
	fmt.Printf("create session: %d clients %s\n", o.clients, f.createN)
	// Where the time goes: each process's CPU over the window, and the worker's and
	// the API's CPU profiles over its middle.
	before := cpuTimes(procs)
	profiles := startProfiles(ctx, svc, o.sustain/2, dir)
	if f.sustained, err = load(ctx, o.clients, 0, o.sustain, b.create); err != nil {
		return err
	}
	f.cpu = cpuSince(procs, before, f.sustained.elapsed)
	profiles.Wait()
	f.sessionsPerS = f.sustained.rate()
	fmt.Printf("sustained: %d clients over %s: %.1f sessions/s, %s\n",
		o.clients, o.sustain, f.sessionsPerS, f.sustained)
	fmt.Printf("cpu over the sustained window (cores): %s\n", f.cpu)
	printProfiles(dir)

	// Top up to the sleeping count, then let the fan-out settle before reading memory.
	if more := o.sleeping - int(b.created.Load()); more > 0 {
		s, err := load(ctx, o.clients, more, 0, b.create)
		if err != nil {
			return err
		}
		fmt.Printf("top-up: %d more sessions, %s\n", more, s)
		merge(f.statuses, s.statuses)
	}
	f.sleeping = int(b.created.Load())
	settle(ctx, filepath.Join(svc.DataDir, "outbox.jsonl"))
	for _, s := range []stats{f.create1, f.createN, f.sustained} {
		merge(f.statuses, s.statuses)
	}
	return nil
}

// settle waits, for up to two minutes, until the outbox has stopped growing for five
// seconds: the sessions' side effects are done and the workflows asleep.
func settle(ctx context.Context, outbox string) {
	var last int64 = -1
	stable := time.Now()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		fi, err := os.Stat(outbox)
		size := int64(0)
		if err == nil {
			size = fi.Size()
		}
		if size != last {
			last, stable = size, time.Now()
		} else if time.Since(stable) > 5*time.Second {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func merge(into, from map[int]int) {
	for k, v := range from {
		into[k] += v
	}
}

func (f *figures) errors() int {
	n := 0
	for _, v := range f.statuses {
		n += v
	}
	return n
}

func (f *figures) overhead() float64 { return ratio(f.createN.p(50), f.floorN.p(50)) }

func (f *figures) throughput() float64 { return ratio(f.sessionsPerS, f.trivialRate) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (f *figures) print() {
	fmt.Printf("overhead ratio: create p50 %.1f ms / floor p50 %.1f ms at %d clients = %.2f\n",
		f.createN.p(50), f.floorN.p(50), f.clients, f.overhead())
	fmt.Printf("throughput ratio: %.1f sessions/s / %.1f trivial wf/s = %.2f\n",
		f.sessionsPerS, f.trivialRate, f.throughput())
	var errs []string
	for code, n := range f.statuses {
		errs = append(errs, fmt.Sprintf("%s=%d", statusName(code), n))
	}
	fmt.Printf("errors: %d %s\n", f.errors(), strings.Join(errs, " "))
	fmt.Printf("memory with %d sessions asleep: worker %.0f MB (peak %.0f MB), "+
		"server %.0f MB (peak %.0f MB), api %.0f MB (peak %.0f MB)\n",
		f.sleeping, stack.MB(f.worker.RSS), stack.MB(f.worker.Peak),
		stack.MB(f.server.RSS), stack.MB(f.server.Peak),
		stack.MB(f.api.RSS), stack.MB(f.api.Peak))
}

// summary is the closing key=value line.
func (f *figures) summary() string {
	return fmt.Sprintf("engine=%s create_p50_ms=%.1f create_p99_ms=%.1f "+
		"overhead_ratio=%.2f throughput_ratio=%.2f sessions_per_s=%.1f errors=%d "+
		"webhook_ack_p99_ms=%s worker_rss_mb_2k=%.0f server_rss_mb_2k=%.0f",
		f.engine, f.createN.p(50), f.createN.p(99), f.overhead(), f.throughput(),
		f.sessionsPerS, f.errors(), f.webhookP99(), stack.MB(f.worker.Peak),
		stack.MB(f.server.Peak))
}

func (f *figures) webhookP99() string {
	if len(f.webhook.ms) == 0 {
		return "na"
	}
	return fmt.Sprintf("%.1f", f.webhook.p(99))
}

func statusName(code int) string {
	if code == 0 {
		return "transport"
	}
	return fmt.Sprintf("http_%d", code)
}

// sideBySide prints the engines' main figures as one table.
func sideBySide(all []*figures) {
	rows := []struct {
		name string
		val  func(f *figures) string
	}{
		{"engine floor p50 ms (8 clients)", func(f *figures) string {
			return fmt.Sprintf("%.1f", f.floorN.p(50))
		}},
		{"trivial workflows/s", func(f *figures) string {
			return fmt.Sprintf("%.1f", f.trivialRate)
		}},
		{"create p50 ms (1 client)", func(f *figures) string {
			return fmt.Sprintf("%.1f", f.create1.p(50))
		}},
		{"create p50 ms (8 clients)", func(f *figures) string {
			return fmt.Sprintf("%.1f", f.createN.p(50))
		}},
		{"create p99 ms (8 clients)", func(f *figures) string {
			return fmt.Sprintf("%.1f", f.createN.p(99))
		}},
		{"overhead ratio", func(f *figures) string { return fmt.Sprintf("%.2f", f.overhead()) }},
		{"sessions/s sustained", func(f *figures) string {
			return fmt.Sprintf("%.1f", f.sessionsPerS)
		}},
		{"throughput ratio", func(f *figures) string {
			return fmt.Sprintf("%.2f", f.throughput())
		}},
		{"errors", func(f *figures) string { return fmt.Sprint(f.errors()) }},
		{"webhook ack p99 ms", func(f *figures) string { return f.webhookP99() }},
		{"worker peak RSS MB", func(f *figures) string {
			return fmt.Sprintf("%.0f", stack.MB(f.worker.Peak))
		}},
		{"server peak RSS MB", func(f *figures) string {
			return fmt.Sprintf("%.0f", stack.MB(f.server.Peak))
		}},
	}
	fmt.Printf("\n%-34s", "")
	for _, f := range all {
		fmt.Printf("%26s", f.engine)
	}
	fmt.Println()
	for _, r := range rows {
		fmt.Printf("%-34s", r.name)
		for _, f := range all {
			fmt.Printf("%26s", r.val(f))
		}
		fmt.Println()
	}
}

// warmUp creates sessions until five in a row are answered 200: a new server learns
// the sessions' search attributes within seconds of their registration, and its first
// sessions wait for that.
func warmUp(ctx context.Context, b *booker) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for ok := 0; ok < 5; {
		status, err := b.create(ctx, 0)
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("warm-up: no five sessions created in a row: %w", ctx.Err())
		case err == nil && status == http.StatusOK:
			ok++
		default:
			ok = 0
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}
