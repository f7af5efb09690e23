// Command drill is the crash and fault drill behind make drill. It starts the Temporal
// dev server on its file database, the worker and the API as their own processes, a
// Zoom sandbox in this process that the drill makes misbehave, and the billing (M04)
// and follow-up (M05) modules' webhooks (vendortest's, which check signatures and
// take an idempotency key once). It starts sessions through the API's own engine code
// (api.Temporal) with a lifecycle shortened to seconds, and makes the platform answer
// 5xx, 429 with Retry-After, and succeed only after the client's timeout. It kills
// the worker with SIGKILL while the platform holds back its answer to a create that
// has made the meeting.
//
// Every other session is attended: the drill plays its visit on the sandbox (POST
// /sandbox/meetings/{id}/start, wait, admit, then end), whose signed events reach the
// API's /webhooks/zoom through a relay that redelivers them as Zoom does; the others
// are no-shows. Mid-visit it kills the worker and stops the server, starts the second
// half of the visits (the API answers their events 503), kills the API, restarts all
// three, and kills the worker again as the first visit bills.
//
// Then it counts: sessions started, completed, lost, meetings per booking, billing
// triggers per attended session at the billing module and their figures against the
// visit played, no-shows billed (none: the sessions have no no-show fee), and side
// effects duplicated, and ends with the line `started=N completed=N lost=N
// duplicated=N`. It exits 1 when a session is lost or closes in the wrong status, a
// booking has other than one meeting, an attended session bills other than once or
// for another time than its visit's, a no-show bills at all, a side effect ran twice
// or never, or a fault or outage was not seen.
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
	lead     time.Duration // how long after its creation a no-show session ends
	visit    time.Duration // how long an attended visit lasts at least
	deadline time.Duration // how long the drill waits for every session to complete
	keep     bool
}

func main() {
	var o options
	flag.StringVar(&o.temporal, "temporal", os.Getenv("TEMPORAL"), "Temporal CLI binary")
	flag.StringVar(&o.bin, "bin", "bin", "folder with the worker binary")
	flag.IntVar(&o.sessions, "sessions", 60, "sessions to start")
	flag.IntVar(&o.clients, "clients", 4, "concurrent creators")
	flag.DurationVar(&o.lead, "lead", 30*time.Second,
		"a no-show session's end after its creation")
	flag.DurationVar(&o.visit, "visit", 20*time.Second,
		"least time an attended visit lasts, from the patient's join")
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
