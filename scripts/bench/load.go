package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
)

// call is one measured operation: it returns the HTTP status (200 for success) or an
// error.
type call func(ctx context.Context, i int) (int, error)

// stats are the latencies and outcomes of one phase.
type stats struct {
	ms       []float64 // latencies of the successful calls, sorted
	errors   int
	statuses map[int]int // failures by status, 0 for transport errors
	firstErr error       // the first transport error, to tell what failed
	elapsed  time.Duration
}

// p returns the q-th percentile latency in milliseconds (nearest rank).
func (s stats) p(q float64) float64 {
	if len(s.ms) == 0 {
		return 0
	}
	i := int(math.Ceil(q/100*float64(len(s.ms)))) - 1
	return s.ms[max(i, 0)]
}

// rate is the successful calls per second.
func (s stats) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(len(s.ms)) / s.elapsed.Seconds()
}

func (s stats) String() string {
	return fmt.Sprintf("n=%d p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms errors=%d",
		len(s.ms), s.p(50), s.p(90), s.p(99), s.p(100), s.errors)
}

// load runs fn from clients goroutines until n calls have been made (n > 0) or for d.
func load(ctx context.Context, clients, n int, d time.Duration, fn call) (stats, error) {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
		s    = stats{statuses: map[int]int{}}
	)
	began := time.Now()
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1))
				if n > 0 && i > n {
					return
				}
				t := time.Now()
				status, err := fn(ctx, i)
				ms := float64(time.Since(t).Microseconds()) / 1000
				if d > 0 && ctx.Err() != nil {
					return // cut off by the window's end: not a failure
				}
				mu.Lock()
				if err == nil && status == http.StatusOK {
					s.ms = append(s.ms, ms)
				} else {
					s.errors++
					s.statuses[status]++
					if s.firstErr == nil {
						s.firstErr = err
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s.elapsed = time.Since(began)
	slices.Sort(s.ms)
	if d == 0 && ctx.Err() != nil {
		return s, ctx.Err()
	}
	return s, nil
}

// floorUpdate is the trivial workflow's update.
const floorUpdate = "Create"

// floorWorkflow is the engine floor: an update that returns at once, then the end.
func floorWorkflow(ctx workflow.Context) error {
	done := false
	if err := workflow.SetUpdateHandler(ctx, floorUpdate,
		func(workflow.Context) (string, error) {
			done = true
			return "ok", nil
		}); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return done })
}

// noopWorkflow returns at once.
func noopWorkflow(workflow.Context) error { return nil }

// floorCall is one update-with-start of the floor workflow, as the API sends its own.
func floorCall(ctx context.Context, tc client.Client, queue string) error {
	start := tc.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       "floor-" + uuid.NewString(),
		TaskQueue:                queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, floorWorkflow)
	h, err := tc.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   floorUpdate,
			WaitForStage: client.WorkflowUpdateStageAccepted,
		},
	})
	if err != nil {
		return err
	}
	var out string
	return h.Get(ctx, &out)
}

// booker posts session requests to the API, each for a new booking.
type booker struct {
	base    string
	url     string
	run     string
	http    *http.Client
	start   time.Time
	created atomic.Int64
	// seq numbers the bookings across every phase, so that no phase repeats another's
	// booking (a repeat answers from the running session and creates nothing).
	seq atomic.Int64

	mu       sync.Mutex
	meetings []string // the created sessions' meeting ids
}

func newBooker(url string, clients int) *booker {
	return &booker{
		base: url,
		url:  url + "/webhook/telehealth-session",
		run:  uuid.NewString()[:8],
		http: &http.Client{
			Timeout:   60 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: clients},
		},
		// Hours ahead: every session sleeps through the benchmark.
		start: time.Now().Add(3 * time.Hour).Truncate(time.Minute),
	}
}

// create posts a new booking and reads the answer.
func (b *booker) create(ctx context.Context, _ int) (int, error) {
	i := int(b.seq.Add(1))
	body, _ := json.Marshal(map[string]any{
		"booking_id":       fmt.Sprintf("BENCH-%s-%06d", b.run, i),
		"patient_email":    fmt.Sprintf("patient%d@example.com", i),
		"patient_name":     "Bench Patient",
		"patient_phone":    "+15555550100",
		"scheduled_time":   b.start.Add(time.Duration(i%600) * time.Minute).Format(time.RFC3339),
		"duration_minutes": 30,
		"provider_email":   "dr.bench@example.com",
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var answer struct {
		Data struct {
			MeetingURL string `json:"meeting_url"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return 0, err
	}
	b.created.Add(1)
	// The patient's link is .../j/<meeting id>?pwd=...
	if u, err := url.Parse(answer.Data.MeetingURL); err == nil {
		b.mu.Lock()
		b.meetings = append(b.meetings, path.Base(u.Path))
		b.mu.Unlock()
	}
	return resp.StatusCode, nil
}

// webhookSecret signs the benchmark's platform webhooks (ZOOM_WEBHOOK_SECRET_TOKEN).
const webhookSecret = "bench-webhook-secret"

// webhook posts a signed Zoom participant_joined event for meeting i mod the created
// ones and reads the ack: 200 with the event delivered to its session.
func (b *booker) webhook(ctx context.Context, i int) (int, error) {
	b.mu.Lock()
	meeting := b.meetings[i%len(b.meetings)]
	b.mu.Unlock()
	now := time.Now()
	body := fmt.Appendf(nil, `{"event":"meeting.participant_joined","event_ts":%d,`+
		`"payload":{"account_id":"bench","object":{"id":%q,"uuid":"u%d==",`+
		`"host_id":"HOST","type":2,"duration":30,"participant":{"user_id":"%d",`+
		`"user_name":"Bench Patient","participant_uuid":"PU-%d","join_time":%q}}}}`,
		now.UnixMilli(), meeting, i, i, i, now.UTC().Format(time.RFC3339))
	ts := strconv.FormatInt(now.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/webhooks/zoom",
		bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-zm-request-timestamp", ts)
	req.Header.Set("x-zm-signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ack struct {
		Status string `json:"status"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ack)
	if resp.StatusCode == http.StatusOK && ack.Status != "delivered" {
		return 0, fmt.Errorf("webhook: %s", ack.Status)
	}
	return resp.StatusCode, nil
}
