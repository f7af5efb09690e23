// Command drill is the crash and fault drill behind make drill. It starts the Temporal
// dev server on its file database, the worker as its own process, and a Zoom sandbox
// in this process that the drill makes misbehave; it starts sessions through the API's
// own engine code (api.Temporal) with a lifecycle shortened to seconds, kills the
// worker with SIGKILL while sessions are being created and again while they run,
// stops and restarts the server, and makes the platform answer 5xx, 429 with
// Retry-After, and succeed only after the client's timeout. Then it counts: sessions
// started, completed, lost, meetings per booking, and side effects duplicated, and ends
// with the line `started=N completed=N lost=N duplicated=N`. It exits 1 when a
// session is lost, a booking has other than one meeting, or a side effect ran twice.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// options are the drill's knobs; the defaults are what make drill runs.
type options struct {
	temporal string        // the Temporal CLI
	bin      string        // folder with the worker binary
	sessions int           // sessions started
	clients  int           // concurrent creators
	lead     time.Duration // how long after its creation a session ends
	deadline time.Duration // how long the drill waits for every session to complete
	keep     bool
}

func main() {
	var o options
	flag.StringVar(&o.temporal, "temporal", os.Getenv("TEMPORAL"), "Temporal CLI binary")
	flag.StringVar(&o.bin, "bin", "bin", "folder with the worker binary")
	flag.IntVar(&o.sessions, "sessions", 60, "sessions to start")
	flag.IntVar(&o.clients, "clients", 4, "concurrent creators")
	flag.DurationVar(&o.lead, "lead", 30*time.Second, "session end after its creation")
	flag.DurationVar(&o.deadline, "deadline", 4*time.Minute, "wait for completion")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder (logs, databases)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.deadline+5*time.Minute)
	defer cancel()

	r, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "drill:", err)
		os.Exit(1)
	}
	fmt.Printf("started=%d completed=%d lost=%d duplicated=%d\n",
		r.started, r.completed, r.lost, r.duplicated)
	if !r.ok() {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (*result, error) {
	if o.temporal == "" {
		return nil, fmt.Errorf("no Temporal CLI: pass -temporal or set TEMPORAL")
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return nil, err
	}
	o.bin = bin
	dir, err := os.MkdirTemp("", "drill-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Println("work folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	d := &drill{o: o, dir: dir}
	defer d.close()
	return d.run(ctx)
}
