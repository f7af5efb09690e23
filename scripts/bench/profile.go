package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/telehealth/sessions/internal/stack"
)

// self is the benchmark's own process, as the last CPU reading.
const self = "bench"

// cpuTimes reads the CPU time used so far by each process and by the benchmark.
func cpuTimes(procs []*stack.Proc) []time.Duration {
	out := make([]time.Duration, len(procs)+1)
	for i, p := range procs {
		out[i], _ = p.CPU()
	}
	out[len(procs)] = selfCPU()
	return out
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuSince formats each process's CPU use since before, in cores over elapsed.
func cpuSince(procs []*stack.Proc, before []time.Duration, elapsed time.Duration) string {
	now := cpuTimes(procs)
	var parts []string
	for i := range now {
		name := self
		if i < len(procs) {
			name = procs[i].Name
		}
		cores := (now[i] - before[i]).Seconds() / elapsed.Seconds()
		parts = append(parts, fmt.Sprintf("%s=%.2f", name, cores))
	}
	return strings.Join(parts, " ")
}

// startProfiles takes CPU profiles of the worker and the API over d, into dir.
func startProfiles(
	ctx context.Context,
	svc *stack.Service,
	d time.Duration,
	dir string,
) *sync.WaitGroup {
	var wg sync.WaitGroup
	for name, base := range map[string]string{"worker": svc.WorkerURL, "api": svc.URL} {
		wg.Go(func() {
			// Start a quarter into the window, when the load has settled.
			time.Sleep(d / 2)
			url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, int(d.Seconds()))
			if err := fetch(ctx, url, filepath.Join(dir, name+".pprof")); err != nil {
				fmt.Printf("profile %s: %v\n", name, err)
			}
		})
	}
	return &wg
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printProfiles prints the top functions of each profile taken, by cumulative time.
func printProfiles(dir string) {
	for _, name := range []string{"worker", "api"} {
		path := filepath.Join(dir, name+".pprof")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		printTop("cpu profile of the "+name+", top 15 by cumulative time", path, "-cum",
			"-nodecount=15")
	}
}

// printTop prints go tool pprof -top of a profile.
func printTop(title, path string, args ...string) {
	args = append([]string{"tool", "pprof", "-top"}, args...)
	out, err := exec.Command("go", append(args, path)...).CombinedOutput()
	if err != nil {
		fmt.Printf("pprof %s: %v\n", path, err)
		return
	}
	fmt.Printf("%s:\n%s", title, out)
}
