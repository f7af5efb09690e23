// Package visits finds live sessions through Temporal's visibility store: the session
// of a platform meeting, for the webhooks, and the sessions waiting for a provider,
// for the waiting-room queue. Both the API and the worker use it.
package visits

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/telehealth/sessions/workflows"
)

// ErrUnknownMeeting is the answer for a meeting no open session has.
var ErrUnknownMeeting = errors.New("no open session has this meeting")

// ErrNotIndexed is the ErrUnknownMeeting of a meeting that no session, open or
// closed, is known to have yet: either not ours, or so new that Temporal's search has
// not caught up with it.
var ErrNotIndexed = fmt.Errorf("%w: none found", ErrUnknownMeeting)

// MaxCachedMeetings bounds a Directory's cache of meetings: the most recently used
// ones stay, the others are searched for again.
const MaxCachedMeetings = 20_000

// Directory looks sessions up. It caches which workflow has which meeting: a meeting
// keeps its session for life.
type Directory struct {
	Client client.Client
	// VisibilityLag is how long a lookup that found nothing waits to look once more,
	// for a session whose meeting was made a moment ago; default 300 ms.
	VisibilityLag time.Duration

	once  sync.Once
	cache *lru.Cache[string, string] // meeting id → workflow id
}

// Remember records that a workflow has a meeting, as its creator learns it, so that
// the meeting's first event needs no search.
func (d *Directory) Remember(meetingID, workflowID string) {
	if meetingIDPattern.MatchString(meetingID) && workflowID != "" {
		d.meetings().Add(meetingID, workflowID)
	}
}

func (d *Directory) meetings() *lru.Cache[string, string] {
	d.once.Do(func() {
		d.cache, _ = lru.New[string, string](MaxCachedMeetings) // fails on size <= 0 only
	})
	return d.cache
}

var (
	meetingIDPattern  = regexp.MustCompile(`^[0-9]{1,20}$`)
	providerIDPattern = regexp.MustCompile(`^(prov-[0-9a-f]{20}|unassigned)$`)
)

// SignalVisit delivers a platform event to the session of its meeting.
// ErrUnknownMeeting means no open session has the meeting (or it has closed).
func (d *Directory) SignalVisit(ctx context.Context, e workflows.VisitEvent) error {
	id, err := d.workflowOf(ctx, e.MeetingID)
	if err != nil {
		return err
	}
	err = d.Client.SignalWorkflow(ctx, id, "", workflows.VisitEventSignal, e)
	if _, ok := errors.AsType[*serviceerror.NotFound](err); ok {
		d.meetings().Remove(e.MeetingID)
		return ErrUnknownMeeting
	}
	if err != nil {
		return fmt.Errorf("signal session: %w", err)
	}
	return nil
}

// workflowOf finds the running workflow that has the meeting.
func (d *Directory) workflowOf(ctx context.Context, meetingID string) (string, error) {
	if !meetingIDPattern.MatchString(meetingID) {
		return "", ErrUnknownMeeting
	}
	if id, ok := d.meetings().Get(meetingID); ok {
		return id, nil
	}
	query := fmt.Sprintf("%s = '%s' AND ExecutionStatus = 'Running'",
		workflows.MeetingIDAttr.GetName(), meetingID)
	for attempt := 0; ; attempt++ {
		resp, err := d.Client.ListWorkflow(ctx,
			&workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1})
		if err != nil {
			return "", fmt.Errorf("find session of meeting: %w", err)
		}
		if len(resp.Executions) > 0 {
			id := resp.Executions[0].Execution.WorkflowId
			d.meetings().Add(meetingID, id)
			return id, nil
		}
		if attempt == 1 {
			return "", d.closedOrNone(ctx, meetingID)
		}
		lag := d.VisibilityLag
		if lag == 0 {
			lag = 300 * time.Millisecond
		}
		select {
		case <-time.After(lag):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// closedOrNone tells a meeting whose session has closed from one no session has.
func (d *Directory) closedOrNone(ctx context.Context, meetingID string) error {
	query := fmt.Sprintf("%s = '%s'", workflows.MeetingIDAttr.GetName(), meetingID)
	resp, err := d.Client.ListWorkflow(ctx,
		&workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1})
	switch {
	case err != nil:
		return fmt.Errorf("find session of meeting: %w", err)
	case len(resp.Executions) > 0:
		return ErrUnknownMeeting
	}
	return ErrNotIndexed
}

// Waiting is one patient in a provider's waiting room.
type Waiting struct {
	SessionID     string    `json:"session_id"`
	Patient       string    `json:"patient"` // masked
	WaitingSince  time.Time `json:"waiting_since"`
	WaitedSeconds int       `json:"waited_seconds"`
	// EstimatedWaitSeconds adds what is left of the provider's visit in progress and
	// the booked durations of the patients ahead.
	EstimatedWaitSeconds int `json:"estimated_wait_seconds"`
	Position             int `json:"position"`
	workflowID           string
	duration             time.Duration // booked
}

// ValidProvider reports whether s is a provider key (see workflows.ProviderKey).
func ValidProvider(s string) bool { return providerIDPattern.MatchString(s) }

// WaitingRoom lists the patients waiting for the provider, in arrival order, each
// with an estimate of the wait.
func (d *Directory) WaitingRoom(
	ctx context.Context,
	providerID string,
	now time.Time,
) ([]Waiting, error) {
	room, err := d.waiting(ctx, providerID, now)
	if err != nil || len(room) == 0 {
		return room, err
	}
	busy, err := d.states(ctx, runningFor(providerID)+fmt.Sprintf(" AND %s = '%s'",
		workflows.SessionStatusAttr.GetName(), workflows.StatusInProgress))
	if err != nil {
		return nil, err
	}

	var ahead time.Duration
	for _, s := range busy {
		att := s.state.Attendance
		if att.WaitingSince != nil || !att.Live {
			continue
		}
		from := s.state.ScheduledStart
		if att.ActualStart != nil {
			from = *att.ActualStart
		}
		ahead += max(from.Add(time.Duration(s.state.DurationMinutes)*time.Minute).Sub(now), 0)
	}
	for i := range room {
		room[i].EstimatedWaitSeconds = int(ahead / time.Second)
		ahead += room[i].duration
	}
	return room, nil
}

// runningFor is the visibility query of the provider's running sessions.
func runningFor(providerID string) string {
	return fmt.Sprintf("%s = '%s' AND ExecutionStatus = 'Running'",
		workflows.ProviderIDAttr.GetName(), providerID)
}

// waiting lists the patients waiting for the provider, in arrival order, without the
// wait estimate.
func (d *Directory) waiting(
	ctx context.Context,
	providerID string,
	now time.Time,
) ([]Waiting, error) {
	if !ValidProvider(providerID) {
		return nil, nil
	}
	found, err := d.states(ctx, runningFor(providerID)+fmt.Sprintf(
		" AND %s > '2000-01-01T00:00:00Z'", workflows.WaitingSinceAttr.GetName()))
	if err != nil {
		return nil, err
	}

	var out []Waiting
	for _, s := range found {
		if s.state.Attendance.WaitingSince == nil {
			continue // left since the list was read
		}
		since := *s.state.Attendance.WaitingSince
		out = append(out, Waiting{
			SessionID:     s.state.SessionID,
			Patient:       s.state.PatientMasked,
			WaitingSince:  since,
			WaitedSeconds: int(max(now.Sub(since), 0) / time.Second),
			workflowID:    s.workflowID,
			duration:      time.Duration(s.state.DurationMinutes) * time.Minute,
		})
	}
	slices.SortFunc(out, func(a, b Waiting) int { return a.WaitingSince.Compare(b.WaitingSince) })
	for i := range out {
		out[i].Position = i + 1
	}
	return out, nil
}

// ErrQueueBehind is PromoteNext's retryable answer while the visibility store does not
// show yet a session that has just entered the waiting room.
var ErrQueueBehind = errors.New("waiting room not yet visible")

// PromoteNext tells the first session in the provider's waiting room that its patient
// is next. The session texts its patient once per stay.
func (d *Directory) PromoteNext(ctx context.Context, providerID, waiting string) error {
	room, err := d.waiting(ctx, providerID, time.Now())
	if err != nil {
		return err
	}
	if waiting != "" && !slices.ContainsFunc(room, func(w Waiting) bool {
		return w.SessionID == waiting
	}) {
		return ErrQueueBehind
	}
	if len(room) == 0 {
		return nil
	}
	first := room[0]
	err = d.Client.SignalWorkflow(ctx, first.workflowID, "", workflows.NextInQueueSignal,
		workflows.NextInQueue{WaitingSince: first.WaitingSince})
	if _, ok := errors.AsType[*serviceerror.NotFound](err); ok {
		return nil // closed meanwhile
	}
	if err != nil {
		return fmt.Errorf("promote next: %w", err)
	}
	return nil
}

type found struct {
	workflowID string
	state      workflows.State
}

// states lists the workflows the query matches and queries each for its state.
func (d *Directory) states(ctx context.Context, query string) ([]found, error) {
	var out []found
	req := &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 100}
	for {
		resp, err := d.Client.ListWorkflow(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		for _, e := range resp.Executions {
			v, err := d.Client.QueryWorkflow(ctx, e.Execution.WorkflowId, "",
				workflows.SessionQuery)
			if _, ok := errors.AsType[*serviceerror.NotFound](err); ok {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("query session: %w", err)
			}
			var s workflows.State
			if err := v.Get(&s); err != nil {
				return nil, fmt.Errorf("decode session: %w", err)
			}
			out = append(out, found{workflowID: e.Execution.WorkflowId, state: s})
		}
		if len(resp.NextPageToken) == 0 || len(out) >= 500 {
			return out, nil
		}
		req.NextPageToken = resp.NextPageToken
	}
}
