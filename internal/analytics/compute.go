package analytics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/telehealth/sessions/workflows"
)

// dateLayout is the date form of a range's bounds: midnight UTC of that day.
const dateLayout = "2006-01-02"

// Range is [From, To) over the sessions' scheduled start.
type Range struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ParseRange reads a range's bounds, each an RFC 3339 time or a YYYY-MM-DD date (that
// day's midnight, UTC), and checks it: both given, from before to, at most maxSpan
// long. It returns every problem found.
func ParseRange(from, to string, maxSpan time.Duration) (Range, []string) {
	var (
		r        Range
		problems []string
	)
	f, fok := parseBound("from", from, &problems)
	t, tok := parseBound("to", to, &problems)
	if fok && tok {
		switch {
		case !f.Before(t):
			problems = append(problems, "to must be after from")
		case t.Sub(f) > maxSpan:
			problems = append(problems, fmt.Sprintf(
				"the range must be at most %d days long", int(maxSpan/(24*time.Hour))))
		}
	}
	r.From, r.To = f.UTC(), t.UTC()
	return r, problems
}

func parseBound(name, v string, problems *[]string) (time.Time, bool) {
	if v == "" {
		*problems = append(*problems, name+" is required")
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(dateLayout, v); err == nil {
		return t, true
	}
	*problems = append(*problems, name+" must be an RFC 3339 time or a YYYY-MM-DD date")
	return time.Time{}, false
}

// Bucket is the period sessions are counted by.
type Bucket string

// Buckets; a week starts on Monday; all are in UTC.
const (
	Day   Bucket = "day"
	Week  Bucket = "week"
	Month Bucket = "month"
)

// ParseBucket reads a bucket; empty is Day.
func ParseBucket(v string) (Bucket, bool) {
	switch Bucket(v) {
	case "", Day:
		return Day, true
	case Week, Month:
		return Bucket(v), true
	}
	return "", false
}

// Start returns the start of the bucket that holds t.
func (b Bucket) Start(t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch b {
	case Week:
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		return day.AddDate(0, 0, -back)
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

// next returns the start of the bucket after the one starting at start.
func (b Bucket) next(start time.Time) time.Time {
	switch b {
	case Week:
		return start.AddDate(0, 0, 7)
	case Month:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// Report is the analytics of the sessions scheduled in a range. A rate whose
// denominator is zero is nil (JSON null): there was nothing to measure.
type Report struct {
	Range
	Bucket Bucket `json:"bucket"`
	// Sessions counts every session scheduled in the range; ByStatus splits them.
	Sessions int            `json:"sessions"`
	ByStatus map[string]int `json:"byStatus"`
	// Buckets are every bucket that overlaps the range, in order, empty ones too.
	Buckets     []BucketCount  `json:"buckets"`
	Duration    Duration       `json:"actualDuration"`
	NoShow      NoShow         `json:"noShow"`
	Utilization Utilization    `json:"utilization"`
	Providers   []ProviderUse  `json:"providers"`
	Encryption  EncryptionRate `json:"encryptionCompliance"`
	Recording   RecordingRate  `json:"recordingCompliance"`
}

// BucketCount is the sessions scheduled in one bucket, by status.
type BucketCount struct {
	Start    string         `json:"start"` // YYYY-MM-DD, UTC
	Sessions int            `json:"sessions"`
	ByStatus map[string]int `json:"byStatus"`
}

// Duration is the average length of the meetings that took place and have ended
// (actual start to actual end).
type Duration struct {
	Sessions       int      `json:"sessions"`
	AverageSeconds *float64 `json:"averageSeconds"`
	AverageMinutes *float64 `json:"averageMinutes"`
}

// NoShow is the share of concluded sessions the patient missed. Concluded: ENDED,
// COMPLETED or NO_SHOW. Missed: NO_SHOW (never seen by start + grace), or a
// waiting-room abandonment (waited, never admitted, never joined, gone).
type NoShow struct {
	Concluded int      `json:"concluded"`
	NoShows   int      `json:"noShows"`
	Abandoned int      `json:"abandoned"`
	Missed    int      `json:"missed"`
	Rate      *float64 `json:"rate"`
}

// Utilization is booked against attended time over concluded sessions: booked is the
// sessions' booked duration, attended the time provider and patient were both in the
// meeting (the billable time).
type Utilization struct {
	Sessions        int      `json:"sessions"`
	BookedMinutes   int      `json:"bookedMinutes"`
	AttendedMinutes float64  `json:"attendedMinutes"`
	Rate            *float64 `json:"rate"`
}

// ProviderUse is one provider's utilization, by their opaque key.
type ProviderUse struct {
	ProviderID string `json:"providerId"`
	Utilization
}

// EncryptionRate is the share of sessions with a meeting whose platform confirmed the
// settings the spec requires: enhanced encryption and the waiting room.
type EncryptionRate struct {
	Meetings           int      `json:"meetings"`
	Compliant          int      `json:"compliant"`
	Rate               *float64 `json:"rate"`
	EncryptionEnabled  int      `json:"encryptionEnabled"`
	WaitingRoomEnabled int      `json:"waitingRoomEnabled"`
	PasscodeSet        int      `json:"passcodeSet"`
}

// RecordingRate is the share of meetings that took place that were recorded as the
// spec requires: cloud auto-recording confirmed on the meeting, and a recording
// reported by the platform.
type RecordingRate struct {
	Held       int      `json:"held"`
	Compliant  int      `json:"compliant"`
	Rate       *float64 `json:"rate"`
	Configured int      `json:"configured"`
	Recorded   int      `json:"recorded"`
	Completed  int      `json:"completed"`
}

// Compute makes the report of the sessions scheduled in r; sessions outside it are
// left out.
func Compute(sessions []Session, r Range, bucket Bucket) Report {
	rep := Report{Range: r, Bucket: bucket, ByStatus: map[string]int{},
		Buckets: []BucketCount{}, Providers: []ProviderUse{}}
	index := map[time.Time]int{}
	for b := bucket.Start(r.From); b.Before(r.To); b = bucket.next(b) {
		index[b] = len(rep.Buckets)
		rep.Buckets = append(rep.Buckets, BucketCount{Start: b.Format(dateLayout),
			ByStatus: map[string]int{}})
	}
	providers := map[string]*ProviderUse{}
	var durationSum float64
	for _, s := range sessions {
		if s.ScheduledStart.Before(r.From) || !s.ScheduledStart.Before(r.To) {
			continue
		}
		status := string(s.Status)
		rep.Sessions++
		rep.ByStatus[status]++
		bc := &rep.Buckets[index[bucket.Start(s.ScheduledStart)]]
		bc.Sessions++
		bc.ByStatus[status]++

		if s.ActualStart != nil && s.ActualEnd != nil {
			rep.Duration.Sessions++
			durationSum += s.ActualEnd.Sub(*s.ActualStart).Seconds()
		}
		if s.Concluded() {
			noShow(&rep.NoShow, s)
			id := cmp.Or(s.ProviderID, "unknown") // sessions of the first release
			p := providers[id]
			if p == nil {
				p = &ProviderUse{ProviderID: id}
				providers[id] = p
			}
			use(&p.Utilization, s)
			use(&rep.Utilization, s)
		}
		if s.MeetingCreated {
			encryption(&rep.Encryption, s)
		}
		if s.ActualStart != nil {
			recording(&rep.Recording, s)
		}
	}
	if n := rep.Duration.Sessions; n > 0 {
		rep.Duration.AverageSeconds = ptr(round(durationSum/float64(n), 1))
		rep.Duration.AverageMinutes = ptr(round(durationSum/float64(n)/60, 2))
	}
	rep.NoShow.Rate = rate(rep.NoShow.Missed, rep.NoShow.Concluded)
	finish(&rep.Utilization)
	for _, p := range providers {
		finish(&p.Utilization)
		rep.Providers = append(rep.Providers, *p)
	}
	slices.SortFunc(rep.Providers, func(a, b ProviderUse) int {
		return cmp.Compare(a.ProviderID, b.ProviderID)
	})
	rep.Encryption.Rate = rate(rep.Encryption.Compliant, rep.Encryption.Meetings)
	rep.Recording.Rate = rate(rep.Recording.Compliant, rep.Recording.Held)
	return rep
}

func noShow(n *NoShow, s Session) {
	n.Concluded++
	if s.NoShow {
		n.NoShows++
	}
	if s.Abandoned {
		n.Abandoned++
	}
	if s.Missed() {
		n.Missed++
	}
}

func use(u *Utilization, s Session) {
	u.Sessions++
	u.BookedMinutes += s.DurationMinutes
	u.AttendedMinutes += float64(s.BillableSeconds) / 60
}

func finish(u *Utilization) {
	u.Rate = nil
	if u.BookedMinutes > 0 {
		u.Rate = ptr(round(u.AttendedMinutes/float64(u.BookedMinutes), 4))
	}
	u.AttendedMinutes = round(u.AttendedMinutes, 2)
}

func encryption(e *EncryptionRate, s Session) {
	sec := s.Security
	e.Meetings++
	if sec.EncryptionEnabled {
		e.EncryptionEnabled++
	}
	if sec.WaitingRoomEnabled {
		e.WaitingRoomEnabled++
	}
	if sec.PasscodeSet {
		e.PasscodeSet++
	}
	if sec.EncryptionEnabled && sec.WaitingRoomEnabled {
		e.Compliant++
	}
}

func recording(r *RecordingRate, s Session) {
	r.Held++
	recorded := s.Recording != "" || s.Recordings > 0
	if s.Security.RecordingEnabled {
		r.Configured++
	}
	if recorded {
		r.Recorded++
	}
	if s.Recording == "completed" || s.Recordings > 0 {
		r.Completed++
	}
	if s.Security.RecordingEnabled && recorded {
		r.Compliant++
	}
}

func rate(n, of int) *float64 {
	if of == 0 {
		return nil
	}
	return ptr(round(float64(n)/float64(of), 4))
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func ptr[T any](v T) *T { return &v }

// Statuses lists every session status, in lifecycle order.
var Statuses = []workflows.Status{
	workflows.StatusCreating, workflows.StatusScheduled, workflows.StatusInProgress,
	workflows.StatusEnded, workflows.StatusCompleted, workflows.StatusNoShow,
	workflows.StatusCancelled, workflows.StatusFailed,
}
