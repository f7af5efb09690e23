package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/session"
	"github.com/telehealth/sessions/internal/stack"
	"github.com/telehealth/sessions/internal/temporalx"
	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/workflows"
)

// The sandbox's credentials, which the worker is given as if it were Zoom.
const (
	account  = "drill-account"
	clientID = "drill-client"
	secret   = "drill-secret"
	host     = "host@drill.local"
	// callTimeout is the worker's timeout for one platform call; the delayed fault
	// answers after it.
	callTimeout = time.Second
)

// drill holds what one run started.
type drill struct {
	o   options
	dir string

	sb         *sandbox.Server
	sbSrv      *http.Server
	sandboxURL string
	relay      *relay
	relaySrv   *http.Server
	mods       *modules
	srv        *stack.DevServer
	svc        *stack.Service
	tc         client.Client
	stateDB    string
	calls      calls

	// procs serialises the crashes and restarts of the processes.
	procs sync.Mutex
	// visits are the attended sessions' visits, by workflow id.
	visits map[string]*visit
}

// calls counts the platform's answers to create-meeting calls by status, and tells
// arrived of each call as it arrives (n counts from 1).
type calls struct {
	mu       sync.Mutex
	byStatus map[int]int
	arrivals atomic.Int64
	// arrived is set while the sandbox serves, so it is read and written atomically.
	arrived atomic.Pointer[func(n int)]
}

func (c *calls) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		create := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/meetings")
		if f := c.arrived.Load(); create && f != nil {
			(*f)(int(c.arrivals.Add(1)))
		}
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if create {
			c.mu.Lock()
			if c.byStatus == nil {
				c.byStatus = map[int]int{}
			}
			c.byStatus[rec.status]++
			c.mu.Unlock()
		}
	})
}

func (c *calls) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for status, n := range c.byStatus {
		parts = append(parts, fmt.Sprintf("%d x%d", status, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func (c *calls) count(status int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byStatus[status]
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// result is what the drill counts.
type result struct {
	started, completed, lost, duplicated int
	missing                              int
	// wrong counts sessions that closed in another status than their path's, or
	// whose billing trigger carried other figures than the visit's.
	wrong      int
	faultsSeen bool
	// outageSeen: platform events were answered 503 while Temporal was down, and
	// not at all while the API was, and all were delivered in the end.
	outageSeen bool
	meetings   map[int]int    // meetings per booking → bookings
	final      map[string]int // sessions by final status
	billed     map[int]int    // billing triggers per attended session → sessions
	attended   int            // attended sessions that closed
	// noShows counts the no-shows that closed; noShowsBilled those the billing module
	// heard of, which must be none: the drill's sessions have no no-show fee.
	noShows, noShowsBilled int
	// realDuration counts attended sessions billed the minutes the drill played.
	realDuration int
}

func (r *result) ok() bool {
	return r.lost == 0 && r.duplicated == 0 && r.missing == 0 && r.wrong == 0 &&
		r.faultsSeen && r.outageSeen &&
		len(r.meetings) == 1 && r.meetings[1] == r.started &&
		len(r.billed) == 1 && r.billed[1] == r.attended && r.noShowsBilled == 0
}

func (d *drill) close() {
	if d.tc != nil {
		d.tc.Close()
	}
	if d.svc != nil && d.svc.Worker != nil && !d.svc.Worker.Exited() {
		d.svc.Worker.Stop(10 * time.Second)
	}
	if d.srv != nil && !d.srv.Exited() {
		d.srv.Stop(10 * time.Second)
	}
	if d.svc != nil && d.svc.API != nil && !d.svc.API.Exited() {
		d.svc.API.Stop(10 * time.Second)
	}
	if d.sbSrv != nil {
		_ = d.sbSrv.Close()
	}
	if d.relaySrv != nil {
		_ = d.relaySrv.Close()
	}
	if d.mods != nil {
		d.mods.close()
	}
}

func (d *drill) step(format string, args ...any) {
	fmt.Printf("%s  "+format+"\n", append([]any{time.Now().Format("15:04:05.0")}, args...)...)
}

func (d *drill) run(ctx context.Context) (*result, error) {
	if err := d.start(ctx); err != nil {
		return nil, err
	}

	// Faults on the first creates: each create call pops the next one.
	d.sb.InjectNext(sandbox.CreateMeeting, 2, sandbox.Fault{Delay: 3 * callTimeout})
	d.sb.InjectNext(sandbox.CreateMeeting, 2, sandbox.Fault{Status: 503, Code: 503})
	d.sb.InjectNext(sandbox.CreateMeeting, 2, sandbox.Fault{
		Status: 429, Code: 429, RetryAfter: "1",
		Message: "You have exceeded the daily rate limit"})
	d.step("faults queued on create meeting: 2x success after the client's %s timeout, "+
		"2x 503, 2x 429 Retry-After: 1", callTimeout)

	ids, err := d.create(ctx)
	if err != nil {
		return nil, err
	}

	// Every other session is attended; the others take the no-show path.
	var visits []*visit
	for i, id := range ids {
		if attended(i) {
			v := &visit{workflowID: id}
			visits = append(visits, v)
			d.visits[id] = v
		}
	}
	if err := d.meetings(ctx, visits); err != nil {
		return nil, err
	}
	half := len(visits) / 2
	d.play(ctx, visits[:half])
	d.step("%d visits in progress (meeting started, patient waited and was admitted); "+
		"%d sessions left to be no-shows", half, len(ids)-len(visits))

	// The crashes, mid-visit. The worker dies and Temporal stops; the other visits
	// start meanwhile, so the API answers their events 503 until it dies too, and
	// Zoom's delivery holds them; then all come back.
	d.killWorker()
	d.stopServer()
	d.play(ctx, visits[half:])
	d.step("%d more visits started while Temporal and the worker were down",
		len(visits)-half)
	// The API finds no session without Temporal: it asks Zoom to retry (503), after
	// its own 2 s wait. Only then does it die, with events still coming.
	if !d.relay.waitFailure("503", 15*time.Second) {
		d.step("the API answered no platform event 503 while Temporal was down")
	}
	d.crashAPI()
	if err := d.startServer(ctx); err != nil {
		return nil, err
	}
	if err := d.restartAPI(ctx); err != nil {
		return nil, err
	}
	d.restartWorker()
	if !d.relay.drain(d.o.deadline) {
		d.step("platform events still undelivered after %s", d.o.deadline)
	}
	d.step("platform events: %s", d.relay)
	if err := errVisit(visits); err != nil {
		return nil, err
	}

	// The second worker crash: as soon as the first attended visit bills, while the
	// others are ending, billing or waiting to follow up.
	crashed := make(chan struct{})
	go func() {
		defer close(crashed)
		if d.waitForBilling(ctx) {
			d.crashWorker()
		}
	}()
	d.end(ctx, visits)
	d.step("%d visits ended on the platform", len(visits))
	if err := errVisit(visits); err != nil {
		return nil, err
	}
	d.relay.drain(d.o.deadline)
	r, err := d.count(ctx, ids)
	<-crashed
	return r, err
}

// attended reports whether session i's visit is played; the others are no-shows.
func attended(i int) bool { return i%2 == 0 }

// waitForBilling waits, up to the drill's deadline, for the billing module to take an
// attended session's bill.
func (d *drill) waitForBilling(ctx context.Context) bool {
	sessions := map[string]bool{}
	for _, v := range d.visits {
		sessions[v.sessionID] = true
	}
	deadline := time.Now().Add(d.o.deadline)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, body := range d.mods.billing.Posts() {
			var b struct {
				SessionID string `json:"session_id"`
			}
			if json.Unmarshal(body, &b) == nil && sessions[b.SessionID] {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// start starts the sandbox, the server and the worker.
func (d *drill) start(ctx context.Context) error {
	// Zoom's webhook delivery: the sandbox posts its events here, and the relay
	// delivers them to the API, whose address is known below.
	d.visits = map[string]*visit{}
	d.mods = newModules()
	d.relay = newRelay(ctx, "")
	relayLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.relaySrv = &http.Server{Handler: d.relay, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.relaySrv.Serve(relayLn) }()

	d.stateDB = filepath.Join(d.dir, "sandbox-meetings.json")
	d.sb, err = sandbox.New(sandbox.Options{AccountID: account, ClientID: clientID,
		ClientSecret: secret, StatePath: d.stateDB,
		WebhookURL:    "http://" + relayLn.Addr().String() + "/webhooks/zoom",
		WebhookSecret: webhookSecret})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.sbSrv = &http.Server{Handler: d.calls.wrap(d.sb), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.sbSrv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	d.sandboxURL = base

	d.srv, err = stack.StartDevServer(ctx, d.o.temporal, d.dir)
	if err != nil {
		return err
	}
	// The drill's client seals payloads with the worker's key, as the API does.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	pc, err := codec.New(map[string][]byte{"drill": key}, "drill")
	if err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	if d.tc, err = client.Dial(temporalx.Options(d.srv.Addr, "default", quiet, pc)); err != nil {
		return fmt.Errorf("dial temporal: %w", err)
	}
	if err := temporalx.EnsureSearchAttributes(ctx, d.tc, "default",
		workflows.SearchAttributes); err != nil {
		return err
	}
	d.svc, err = stack.NewService(d.o.bin, d.srv.Addr, d.dir, append(d.mods.env(),
		"VIDEO_PLATFORM=zoom",
		"VIDEO_PLATFORM_API_URL="+base+"/v2",
		"ZOOM_OAUTH_URL="+base+"/oauth/token",
		"ZOOM_ACCOUNT_ID="+account,
		"ZOOM_CLIENT_ID="+clientID,
		"ZOOM_CLIENT_SECRET="+secret,
		"ZOOM_USER_ID="+host,
		"VIDEO_PLATFORM_TIMEOUT="+callTimeout.String(),
		"PAYLOAD_KEYS=drill:"+base64.StdEncoding.EncodeToString(key),
		// No metrics port: a port freed by a killed worker may be taken before the
		// next one starts.
		"WORKER_METRICS_ADDR=",
		"ZOOM_WEBHOOK_SECRET_TOKEN="+webhookSecret,
	)...)
	if err != nil {
		return err
	}
	d.relay.target = d.svc.URL + "/webhooks/zoom"
	if err := d.svc.StartWorker(); err != nil {
		return err
	}
	if err := d.svc.StartAPI(ctx); err != nil {
		return err
	}
	d.step("server at %s, worker pid %d, API pid %d at %s, sandbox at %s", d.srv.Addr,
		d.svc.Worker.Pid(), d.svc.API.Pid(), d.svc.URL, base)
	return nil
}

// crashWorker kills the worker with SIGKILL and starts it again.
func (d *drill) crashWorker() {
	d.killWorker()
	time.Sleep(2 * time.Second)
	d.restartWorker()
}

// killWorker kills the worker with SIGKILL, as a crash would.
func (d *drill) killWorker() {
	d.procs.Lock()
	defer d.procs.Unlock()
	d.step("kill -9 worker pid %d", d.svc.Worker.Pid())
	d.svc.Worker.Kill()
}

// restartWorker starts the worker again, up to three times.
func (d *drill) restartWorker() {
	d.procs.Lock()
	defer d.procs.Unlock()
	for attempt := 1; ; attempt++ {
		err := d.svc.StartWorker()
		if err == nil {
			time.Sleep(time.Second)
			if !d.svc.Worker.Exited() {
				break
			}
			err = errors.New("exited at start; see worker.log")
		}
		d.step("worker restart %d failed: %v", attempt, err)
		if attempt == 3 {
			return
		}
	}
	d.step("worker restarted, pid %d", d.svc.Worker.Pid())
}

// crashAPI kills the API with SIGKILL; restartAPI starts it again.
func (d *drill) crashAPI() {
	d.procs.Lock()
	defer d.procs.Unlock()
	d.step("kill -9 API pid %d", d.svc.API.Pid())
	d.svc.API.Kill()
}

func (d *drill) restartAPI(ctx context.Context) error {
	d.procs.Lock()
	defer d.procs.Unlock()
	if err := d.svc.StartAPI(ctx); err != nil {
		return fmt.Errorf("restart API: %w", err)
	}
	d.step("API restarted, pid %d", d.svc.API.Pid())
	return nil
}

// stopServer stops the Temporal server; startServer starts it again on its database.
func (d *drill) stopServer() {
	d.procs.Lock()
	defer d.procs.Unlock()
	d.step("stopping the Temporal server")
	d.srv.Stop(10 * time.Second)
}

func (d *drill) startServer(ctx context.Context) error {
	d.procs.Lock()
	defer d.procs.Unlock()
	if err := d.srv.Restart(ctx); err != nil {
		return fmt.Errorf("restart server: %w", err)
	}
	d.step("Temporal server restarted on its database")
	return nil
}

// create starts the sessions through the API's engine code, crashing the worker half
// way, and returns their workflow ids.
func (d *drill) create(ctx context.Context) ([]string, error) {
	sessions := &api.Temporal{Client: d.tc, TaskQueue: "telehealth-sessions"}
	run := uuid.NewString()[:8]
	ids := make([]string, d.o.sessions)
	var (
		next             atomic.Int64
		ok, pending, bad atomic.Int64
		crash            sync.Once
		wg               sync.WaitGroup
	)
	// The worker dies while the platform holds its answer to the first create, which
	// succeeds after the client's timeout: the meeting exists, and the worker that
	// takes the session over must find it rather than make another.
	crashOnFirst := func(n int) {
		if n == 1 {
			crash.Do(func() {
				wg.Go(func() {
					time.Sleep(callTimeout / 5)
					d.crashWorker()
				})
			})
		}
	}
	d.calls.arrived.Store(&crashOnFirst)
	d.step("creating %d sessions with %d clients", d.o.sessions, d.o.clients)
	for range d.o.clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= d.o.sessions || ctx.Err() != nil {
					return
				}
				in := d.input(run, i)
				ids[i] = workflows.WorkflowID(in.Booking.BookingID)
				_, err := sessions.Create(ctx, in, 30*time.Second)
				var p *api.PendingError
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &p):
					pending.Add(1)
				default:
					bad.Add(1)
					d.step("create %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	d.step("created: %d with links, %d pending (202), %d failed",
		ok.Load(), pending.Load(), bad.Load())
	return ids, ctx.Err()
}

// input is session i. A no-show session was booked minutes ago, so that its grace
// runs out lead after now. An attended one starts now and is booked for longer than
// the drill runs: the drill, not a timer, ends its visit. Both follow up seconds
// after billing.
func (d *drill) input(run string, i int) workflows.SessionInput {
	const minutes = 15 // the booking's length, and the no-show grace
	now := time.Now().UTC()
	start := now.Add(d.o.lead - minutes*time.Minute)
	if attended(i) {
		start = now
	}
	return workflows.SessionInput{
		Booking: session.Booking{
			BookingID:    fmt.Sprintf("DRILL-%s-%04d", run, i),
			PatientEmail: phi.Email(fmt.Sprintf("patient%d@example.com", i)),
			PatientName:  phi.Name("Drill Patient"),
			PatientPhone: phi.Phone("+15555550100"),
			// One provider each: no patient waits for another's visit.
			ProviderEmail:   fmt.Sprintf("dr.drill%d@example.com", i),
			ScheduledStart:  start.Truncate(time.Second),
			DurationMinutes: minutes,
		},
		ClientIP: "127.0.0.1",
		// No NoShowFeeCents: a no-show is not billed.
		Policy: workflows.Policy{
			FollowUpDelay:   3 * time.Second,
			SessionFeeCents: 5000,
			PastTolerance:   20 * time.Minute,
			Visit: workflows.VisitPolicy{NoShowGrace: minutes * time.Minute,
				RejoinGrace: 2 * time.Second},
		},
	}
}

// count waits for the sessions to close, then counts them and their side effects.
func (d *drill) count(ctx context.Context, ids []string) (*result, error) {
	r := &result{meetings: map[int]int{}, final: map[string]int{}, billed: map[int]int{}}
	deadline := time.Now().Add(d.o.deadline)
	states := map[string]workflows.State{} // workflow id → final state
	status := map[string]enumspb.WorkflowExecutionStatus{}
	for {
		open := 0
		for _, id := range ids {
			if st, ok := status[id]; ok && st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				continue
			}
			desc, err := d.tc.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				open++
				continue
			}
			st := desc.WorkflowExecutionInfo.Status
			status[id] = st
			if st == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				open++
			}
		}
		if open == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(2 * time.Second)
	}

	for _, id := range ids {
		st, ok := status[id]
		if !ok {
			continue // never started
		}
		r.started++
		if st == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			r.completed++
		} else {
			d.step("session %s: %s", id, st)
		}
		var state workflows.State
		if st == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			_ = d.tc.GetWorkflow(ctx, id, "").Get(ctx, &state)
			r.final[string(state.Status)]++
		}
		states[id] = state
	}
	r.lost = len(ids) - r.completed
	for id, state := range states {
		want := workflows.StatusNoShow
		if d.visits[id] != nil {
			want = workflows.StatusCompleted
		}
		if state.SessionID != "" && state.Status != want {
			r.wrong++
			d.step("session %s: %s, not %s", state.SessionID, state.Status, want)
		}
	}

	if err := d.countMeetings(r, states); err != nil {
		return nil, err
	}
	if err := d.countSideEffects(r, states); err != nil {
		return nil, err
	}
	// Each injected fault must have been answered; the delayed ones answer 201 late.
	r.faultsSeen = d.calls.count(503) == 2 && d.calls.count(429) == 2
	r.outageSeen = d.relay.failures("503") > 0 && d.relay.failures("no answer") > 0 &&
		d.relay.abandoned.Load() == 0
	d.report(r)
	fmt.Printf("platform answers to create meeting: %s\n", &d.calls)
	fmt.Printf("platform events to the API: %s\n", d.relay)
	return r, nil
}

// countMeetings counts the meetings kept in the sandbox's state file for each session,
// by the topic the Zoom client gives them.
func (d *drill) countMeetings(r *result, states map[string]workflows.State) error {
	topics, err := sandbox.ReadTopics(d.stateDB)
	if err != nil {
		return err
	}
	perTopic := map[string]int{}
	for _, topic := range topics {
		perTopic[topic]++
	}
	for _, state := range states {
		n := perTopic["Telehealth session "+state.SessionID]
		if state.SessionID == "" {
			n = -1 // no final state: not completed, counted as lost
		}
		r.meetings[n]++
	}
	d.step("meetings in the sandbox: %d for %d sessions", len(topics), len(states))
	return nil
}

// channels maps a session's deliveries to where the drill finds them: the local
// sinks' channels, and the billing and follow-up modules.
var channels = map[string]string{
	"sessionLog": "log", "patientEmail": "email", "patientSms": "sms",
	"staffNotice": "staff", "billing": "billing", "followUp": "follow_up",
}

// countSideEffects reads the billing and follow-up modules, the outbox and the session
// log against each session's final state. Each delivery the session reports sent
// must be there; none may be left pending or failed; and none may have been done
// twice: billing and follow-up taken by their module once per session under one
// idempotency key, any other outbox line once per activity key, a log row once for
// one session and status.
func (d *drill) countSideEffects(r *result, states map[string]workflows.State) error {
	seen := map[string]int{}   // session and channel → lines or triggers taken
	writes := map[string]int{} // what must be done once → times done
	bills, err := readTriggers(d.mods.billing)
	if err != nil {
		return err
	}
	followUps, err := readTriggers(d.mods.followUp)
	if err != nil {
		return err
	}
	for channel, byID := range map[string]map[string]*trigger{
		"billing": bills, "follow_up": followUps} {
		for id, t := range byID {
			seen[id+" "+channel] = t.accepted
			writes[id+" "+channel] = t.accepted
			if len(t.keys) > 1 {
				writes[id+" "+channel+" keys"] = len(t.keys)
			}
		}
	}
	fmt.Printf("billing module: %s; follow-up module: %s\n", tally(bills), tally(followUps))

	outbox, err := os.ReadFile(filepath.Join(d.svc.DataDir, "outbox.jsonl"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("outbox: %w", err)
	}
	for line := range strings.Lines(string(outbox)) {
		var rec struct {
			Channel   string `json:"channel"`
			SessionID string `json:"session_id"`
			Key       string `json:"idempotency_key"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		seen[rec.SessionID+" "+rec.Channel]++
		writes[rec.SessionID+" "+rec.Channel+" "+cmp.Or(rec.Key, "no key")]++
	}
	f, err := os.Open(filepath.Join(d.svc.DataDir, "sessions.csv"))
	if err != nil {
		return fmt.Errorf("session log: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("session log: %w", err)
	}
	for _, row := range rows[1:] {
		key := row[1] + " log:" + row[len(row)-1]
		seen[key]++
		writes[key]++
	}

	var attendedBills []int
	for id, state := range states {
		if state.SessionID == "" {
			continue
		}
		var keys int
		t := bills[state.SessionID]
		if t != nil {
			keys = len(t.keys)
		}
		v := d.visits[id]
		if v == nil {
			// No no-show fee: a no-show's billing is skipped, and M04 hears nothing.
			r.noShows++
			if t != nil || state.Deliveries.Billing.Status != workflows.DeliverySkipped {
				r.noShowsBilled++
				d.step("session %s: a no-show billed (%s)", state.SessionID,
					state.Deliveries.Billing.Status)
			}
		} else {
			r.attended++
			r.billed[keys]++
		}
		if v != nil && t != nil && t.accepted > 0 {
			attendedBills = append(attendedBills, state.Attendance.BillableSeconds)
			if why := v.checkBilling(t.bill, state); why != "" {
				r.wrong++
				d.step("session %s: billed %s", state.SessionID, why)
			} else {
				r.realDuration++
			}
		}
		for name, dl := range deliveries(state) {
			var where []string
			switch {
			case dl.Status == workflows.DeliveryPending ||
				dl.Status == workflows.DeliveryFailed:
				r.missing++
				d.step("session %s: %s left %s", state.SessionID, name, dl.Status)
			case dl.Status != workflows.DeliverySent:
			case channels[name] == "log":
				where = []string{"log:SCHEDULED", "log:" + string(state.Status)}
			case channels[name] != "":
				where = []string{channels[name]}
			}
			for _, w := range where {
				if seen[state.SessionID+" "+w] == 0 {
					r.missing++
					d.step("session %s: %s sent but no %s", state.SessionID, name, w)
				}
			}
		}
	}
	var dups []string
	for key, n := range writes {
		if n > 1 {
			r.duplicated++
			dups = append(dups, fmt.Sprintf("%s x%d", key, n))
		}
	}
	sort.Strings(dups)
	for _, s := range dups {
		d.step("duplicated: %s", s)
	}
	if len(attendedBills) > 0 {
		sort.Ints(attendedBills)
		fmt.Printf("attended visits billed their played time: %d of %d "+
			"(billable seconds %d to %d)\n", r.realDuration, len(d.visits),
			attendedBills[0], attendedBills[len(attendedBills)-1])
	}
	return nil
}

// tally sums what a module saw: the triggers it took, of the requests it had.
func tally(byID map[string]*trigger) string {
	var requests, taken int
	for _, t := range byID {
		requests += t.requests
		taken += t.accepted
	}
	return fmt.Sprintf("%d taken of %d requests", taken, requests)
}

// deliveries lists a state's deliveries by their JSON names, skipping the ones the
// session never had.
func deliveries(state workflows.State) map[string]workflows.Delivery {
	var all map[string]workflows.Delivery
	b, _ := json.Marshal(state.Deliveries)
	_ = json.Unmarshal(b, &all)
	for name, dl := range all {
		if dl.Status == "" {
			delete(all, name)
		}
	}
	return all
}

func (d *drill) report(r *result) {
	var per []string
	for n, count := range r.meetings {
		per = append(per, fmt.Sprintf("%d meeting(s): %d bookings", n, count))
	}
	sort.Strings(per)
	fmt.Printf("sessions started:   %d\n", r.started)
	var finals []string
	for st, n := range r.final {
		finals = append(finals, fmt.Sprintf("%s x%d", st, n))
	}
	sort.Strings(finals)
	fmt.Printf("sessions completed: %d (final status: %s)\n", r.completed,
		strings.Join(finals, ", "))
	fmt.Printf("sessions lost:      %d\n", r.lost)
	fmt.Printf("meetings per booking: %s\n", strings.Join(per, ", "))
	var billed []string
	for n, count := range r.billed {
		billed = append(billed, fmt.Sprintf("%d trigger(s): %d sessions", n, count))
	}
	sort.Strings(billed)
	fmt.Printf("billing triggers per attended session: %s; no-shows billed: %d of %d "+
		"(no no-show fee)\n", strings.Join(billed, ", "), r.noShowsBilled, r.noShows)
	fmt.Printf("side effects duplicated: %d, missing: %d; sessions with the wrong "+
		"outcome or bill: %d\n", r.duplicated, r.missing, r.wrong)
}
