package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// Service is the worker and the API, built binaries started as make run starts them.
type Service struct {
	Worker, API *Proc
	// URL is the API's base URL.
	URL string
	// DataDir is the worker's data folder: the session log and the outbox.
	DataDir string
	// WorkerURL is the worker's metrics and profiles server.
	WorkerURL string

	bin string
	env []string
}

// StartService starts the worker and the API from the binaries in bin against Temporal
// at temporalAddr, with their data and logs in dir; env adds or overrides variables.
func StartService(
	ctx context.Context,
	bin, temporalAddr, dir string,
	env ...string,
) (*Service, error) {
	s, err := NewService(bin, temporalAddr, dir, env...)
	if err != nil {
		return nil, err
	}
	if err := s.StartWorker(); err != nil {
		return nil, err
	}
	if err := s.StartAPI(ctx); err != nil {
		s.Worker.Kill()
		return nil, err
	}
	return s, nil
}

// NewService prepares the service's environment, on free ports, without starting it.
func NewService(bin, temporalAddr, dir string, env ...string) (*Service, error) {
	apiPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	sandboxPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	metricsPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Service{
		URL:       "http://127.0.0.1:" + strconv.Itoa(apiPort),
		DataDir:   filepath.Join(dir, "data"),
		WorkerURL: "http://127.0.0.1:" + strconv.Itoa(metricsPort),
		bin:       bin,
	}
	s.env = append([]string{
		"TEMPORAL_ADDRESS=" + temporalAddr,
		"TASK_QUEUE=telehealth-sessions",
		"BIND_ADDR=127.0.0.1",
		"PORT=" + strconv.Itoa(apiPort),
		"SANDBOX_ADDR=127.0.0.1:" + strconv.Itoa(sandboxPort),
		"DATA_DIR=" + s.DataDir,
		"LOG_LEVEL=warn",
		"API_KEY_ENABLED=false",
		"WORKER_METRICS_ADDR=127.0.0.1:" + strconv.Itoa(metricsPort),
		"PPROF_ENABLED=true",
	}, env...)
	return s, nil
}

// StartWorker starts the worker, again after a Kill.
func (s *Service) StartWorker() error {
	p, err := Start("worker", filepath.Join(s.bin, "worker"), nil, s.env,
		filepath.Join(filepath.Dir(s.DataDir), "worker.log"))
	if err != nil {
		return err
	}
	s.Worker = p
	return nil
}

// StartAPI starts the API and waits for its health check.
func (s *Service) StartAPI(ctx context.Context) error {
	logPath := filepath.Join(filepath.Dir(s.DataDir), "api.log")
	p, err := Start("api", filepath.Join(s.bin, "starter"), nil, s.env, logPath)
	if err != nil {
		return err
	}
	s.API = p
	if err := WaitHTTP(ctx, s.URL+"/healthz", p.Exited); err != nil {
		p.Kill()
		return fmt.Errorf("%w\n%s", err, Tail(logPath, 5))
	}
	return nil
}

// Stop stops the API and the worker.
func (s *Service) Stop() {
	if s.API != nil {
		s.API.Stop(10 * time.Second)
	}
	if s.Worker != nil {
		s.Worker.Stop(10 * time.Second)
	}
}
