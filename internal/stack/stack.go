// Package stack starts the service's processes on this machine for the load benchmark
// and the drills: the Temporal dev server on a file database, the worker and the API,
// each a real process on free loopback ports, and reads their memory use.
package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
)

// Proc is one started process.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs path with args and the extra environment, its output appended to logPath.
func Start(name, path string, args, env []string, logPath string) (*Proc, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, and gone with us if we die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = out.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop asks the process to end (SIGTERM) and waits up to grace before killing it.
func (p *Proc) Stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill ends the process at once (SIGKILL), as a crash would, and waits for it.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Memory is a process's resident set: now and its peak, in bytes.
type Memory struct {
	RSS, Peak int64
}

// MB returns bytes in MiB.
func MB(b int64) float64 { return float64(b) / (1 << 20) }

// Memory reads the process's resident set size and its high-water mark from /proc.
func (p *Proc) Memory() (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return Memory{}, fmt.Errorf("%s memory: %w", p.Name, err)
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[0], 10, 64)
		switch key {
		case "VmRSS":
			m.RSS = kb << 10
		case "VmHWM":
			m.Peak = kb << 10
		}
	}
	return m, sc.Err()
}

// CPU returns the processor time the process has used so far (user and system).
func (p *Proc) CPU() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	if err != nil {
		return 0, fmt.Errorf("%s cpu: %w", p.Name, err)
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	_, rest, _ := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return 0, fmt.Errorf("%s cpu: short /proc stat", p.Name)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	// The kernel counts in clock ticks of 1/100 s on Linux.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreeLowPort returns a loopback port below 32768 that was free a moment ago: the
// Temporal server keeps its membership ports in a smallint column.
func FreeLowPort() (int, error) {
	for range 200 {
		port := 20000 + mrand.IntN(12000)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			_ = ln.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port below 32768")
}

// DevServer is a Temporal dev server on a file database, as make run starts it.
type DevServer struct {
	*Proc
	Addr   string
	cli    string
	dbPath string
	log    string
	extra  []string
}

// StartDevServer starts `temporal server start-dev` from the CLI at cli, headless, on
// a free port, with its database in dir, and waits until it answers; extra are more
// arguments to start-dev.
func StartDevServer(ctx context.Context, cli, dir string, extra ...string) (*DevServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &DevServer{
		Addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		cli:    cli,
		dbPath: filepath.Join(dir, "temporal.db"),
		log:    filepath.Join(dir, "temporal.log"),
		extra:  extra,
	}
	return s, s.Restart(ctx)
}

// Restart starts the server again on the same database and port, after a Stop or Kill.
func (s *DevServer) Restart(ctx context.Context) error {
	_, port, _ := net.SplitHostPort(s.Addr)
	p, err := Start("temporal", s.cli, append([]string{
		"server", "start-dev", "--headless",
		"--ip", "127.0.0.1", "--port", port,
		"--db-filename", s.dbPath,
		// The same pragmas and settings as make run.
		"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
		"--dynamic-config-value", "system.enableActivityEagerExecution=true",
		"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
		"--log-level", "warn",
	}, s.extra...), nil, s.log)
	if err != nil {
		return err
	}
	s.Proc = p
	c, err := s.Dial(ctx)
	if err != nil {
		s.Kill()
		return err
	}
	c.Close()
	return nil
}

// Dial connects a client to the server, waiting up to 30 s for it to answer.
func (s *DevServer) Dial(ctx context.Context) (client.Client, error) {
	return DialWait(ctx, s.Addr, func() bool { return s.Exited() })
}

// DialWait connects to Temporal at addr, retrying for up to 30 s until it answers a
// health check; gone, when set, ends the wait early.
func DialWait(ctx context.Context, addr string, gone func() bool) (client.Client, error) {
	quiet := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if gone != nil && gone() {
			return nil, fmt.Errorf("temporal at %s exited", addr)
		}
		c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: quiet})
		if err == nil {
			hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = c.CheckHealth(hctx, &client.CheckHealthRequest{})
			cancel()
			if err == nil {
				return c, nil
			}
			c.Close()
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("temporal at %s: not healthy after 30 s: %w", addr, last)
}

// WaitHTTP waits up to 30 s for url to answer 200.
func WaitHTTP(ctx context.Context, url string, gone func() bool) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if gone != nil && gone() {
			return errors.New(url + ": process exited")
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New(url + ": not ready after 30 s")
}

// Tail returns the last n lines of a log file, for an error message.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 400 {
			lines[i] = l[:400] + "..."
		}
	}
	return strings.Join(lines, "\n")
}
