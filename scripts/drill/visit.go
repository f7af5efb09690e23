package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/telehealth/sessions/internal/integrations/triggers"
	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/workflows"
)

// webhookSecret signs the sandbox's platform events (ZOOM_WEBHOOK_SECRET_TOKEN).
const webhookSecret = "drill-webhook-secret-0123456789abcdef"

// relay stands between the sandbox and the API's /webhooks/zoom, as Zoom's delivery
// does: it takes each event at once and delivers it until the API acknowledges it
// (2xx), through the API's crashes and Temporal's restart. Each attempt is signed
// afresh; the body, and so the event's key in the session, stays the same, so an
// event the API had passed on before it died is dropped by the session as a repeat.
type relay struct {
	target string // the API's webhook URL
	ctx    context.Context

	wg                   sync.WaitGroup
	events, redeliveries atomic.Int64
	delivered, abandoned atomic.Int64
	client               *http.Client
	mu                   sync.Mutex
	failuresBy           map[string]int // why attempts failed → attempts
}

func newRelay(ctx context.Context, target string) *relay {
	return &relay{target: target, ctx: ctx, failuresBy: map[string]int{},
		client: &http.Client{Timeout: 5 * time.Second}}
}

// ServeHTTP takes one event from the sandbox and delivers it in the background.
func (rl *relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rl.events.Add(1)
	rl.wg.Go(func() { rl.deliver(body) })
	w.WriteHeader(http.StatusOK)
}

// deliver posts body until the API takes it or the drill ends, backing off from
// 200 ms to 2 s.
func (rl *relay) deliver(body []byte) {
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			rl.redeliveries.Add(1)
		}
		why := rl.post(body)
		if why == "" {
			rl.delivered.Add(1)
			return
		}
		rl.mu.Lock()
		rl.failuresBy[why]++
		rl.mu.Unlock()
		select {
		case <-rl.ctx.Done():
			rl.abandoned.Add(1)
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// post makes one attempt; it returns why it failed, or "".
func (rl *relay) post(body []byte) string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(rl.ctx, http.MethodPost, rl.target,
		bytes.NewReader(body))
	if err != nil {
		return "request"
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("x-zm-request-timestamp", ts)
	req.Header.Set("x-zm-signature", sandbox.Sign(webhookSecret, ts, body))
	resp, err := rl.client.Do(req)
	if err != nil {
		return "no answer"
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return strconv.Itoa(resp.StatusCode)
	}
	return ""
}

// waitFailure waits up to limit for an attempt to have failed with why (a status, or
// "no answer"); it reports whether one has.
func (rl *relay) waitFailure(why string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		rl.mu.Lock()
		n := rl.failuresBy[why]
		rl.mu.Unlock()
		if n > 0 {
			return true
		}
		if time.Now().After(deadline) || rl.ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// failures is how many attempts failed with why.
func (rl *relay) failures(why string) int {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return rl.failuresBy[why]
}

// drain waits up to limit for every event taken so far to be delivered.
func (rl *relay) drain(limit time.Duration) bool {
	done := make(chan struct{})
	go func() {
		rl.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

func (rl *relay) String() string {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	s := fmt.Sprintf("%d events, %d delivered, %d redelivery attempts",
		rl.events.Load(), rl.delivered.Load(), rl.redeliveries.Load())
	var causes []string
	for why, n := range rl.failuresBy {
		causes = append(causes, fmt.Sprintf("%s x%d", why, n))
	}
	if len(causes) > 0 {
		sort.Strings(causes)
		s += " (failed attempts: " + strings.Join(causes, ", ") + ")"
	}
	if n := rl.abandoned.Load(); n > 0 {
		s += fmt.Sprintf(", %d never delivered", n)
	}
	return s
}

// visit is one attended session as the drill plays it on the sandbox: the provider
// starts the meeting, the patient waits and is admitted, and later the meeting ends.
// The times bracket the patient's join and the end, for the billable time's bounds.
type visit struct {
	workflowID string
	sessionID  string
	meetingID  string

	joinFrom, joinTo time.Time // around the admit call (the patient joins)
	endFrom, endTo   time.Time // around the end call
	length           time.Duration
	err              error
}

// billableBounds is the range the session's billable seconds must fall in: the
// platform stamps events to the second, between the calls' starts and returns.
func (v *visit) billableBounds() (lo, hi int) {
	sec := func(t time.Time) int64 { return t.Unix() }
	return int(sec(v.endFrom) - sec(v.joinTo)), int(sec(v.endTo) - sec(v.joinFrom))
}

// meetings waits for each attended session's meeting and fills in its ids.
func (d *drill) meetings(ctx context.Context, visits []*visit) error {
	deadline := time.Now().Add(d.o.deadline)
	for _, v := range visits {
		for v.meetingID == "" {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("session %s: no meeting by the deadline", v.workflowID)
			}
			var state workflows.State
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			val, err := d.tc.QueryWorkflow(qctx, v.workflowID, "", workflows.SessionQuery)
			if err == nil {
				err = val.Get(&state)
			}
			cancel()
			if err == nil && state.MeetingID != "" {
				v.sessionID, v.meetingID = state.SessionID, state.MeetingID
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	return nil
}

// play runs the sandbox's steps of a visit's first part: start (the provider, as
// host, joins), wait (the patient enters the waiting room), admit (the patient joins).
func (d *drill) play(ctx context.Context, visits []*visit) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, d.o.clients))
	for _, v := range visits {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for _, step := range []string{"start", "wait", "admit"} {
				if step == "admit" {
					v.joinFrom = time.Now()
				}
				if err := d.sandboxStep(ctx, v.meetingID, step); err != nil {
					v.err = err
					return
				}
				if step == "admit" {
					v.joinTo = time.Now()
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
}

// end ends each played visit once it has lasted its length: the drill's visit length
// and 0, 6, 12 or 18 s more, so that the bills differ.
func (d *drill) end(ctx context.Context, visits []*visit) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, d.o.clients))
	sorted := slices.Clone(visits)
	length := func(k int) time.Duration { return d.o.visit + time.Duration(k%4)*6*time.Second }
	for k, v := range sorted {
		v.length = length(k)
	}
	slices.SortStableFunc(sorted, func(a, b *visit) int {
		return a.joinTo.Add(a.length).Compare(b.joinTo.Add(b.length))
	})
	for _, v := range sorted {
		if v.err != nil {
			continue
		}
		if wait := time.Until(v.joinTo.Add(v.length)); wait > 0 {
			time.Sleep(wait)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			v.endFrom = time.Now()
			if err := d.sandboxStep(ctx, v.meetingID, "end"); err != nil {
				v.err = err
			}
			v.endTo = time.Now()
		})
	}
	wg.Wait()
}

// sandboxStep is POST /sandbox/meetings/{id}/{step} on the drill's sandbox.
func (d *drill) sandboxStep(ctx context.Context, meetingID, step string) error {
	url := d.sandboxURL + "/sandbox/meetings/" + meetingID + "/" + step
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", step, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("sandbox %s: %s %s", step, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// errVisit reports the visits the drill could not play.
func errVisit(visits []*visit) error {
	var errs []error
	for _, v := range visits {
		if v.err != nil {
			errs = append(errs, fmt.Errorf("visit %s: %w", v.workflowID, v.err))
		}
	}
	return errors.Join(errs...)
}

// checkBilling compares the bill the billing module took for a visit with what the
// drill played and the session recorded; it returns what is wrong, or "".
func (v *visit) checkBilling(b triggers.Billing, state workflows.State) string {
	att := state.Attendance
	lo, hi := v.billableBounds()
	ceil := func(sec int) int { return (sec + 59) / 60 }
	switch {
	case b.NoShow:
		return "as a no-show"
	case att.BillableSeconds < lo || att.BillableSeconds > hi:
		return fmt.Sprintf("for %d s of a visit played for %d to %d s",
			att.BillableSeconds, lo, hi)
	case b.SessionDuration != att.BillableMinutes ||
		b.SessionDuration != ceil(att.BillableSeconds):
		return fmt.Sprintf("%d minutes for %d s together", b.SessionDuration,
			att.BillableSeconds)
	case b.ActualStart == nil || b.ActualEnd == nil:
		return "without the visit's start and end"
	case b.ActualEnd.Unix() < v.endFrom.Unix() || b.ActualEnd.Unix() > v.endTo.Unix():
		return "with an end that is not the meeting's"
	case b.Amount == 0:
		return "nothing"
	}
	return ""
}
