package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// The changes a journal line records.
const (
	opCreate = "create"
	opUpdate = "update"
	opDelete = "delete"
)

// compactSlack is how many lines the journal may hold beyond twice the meetings before
// a change compacts it: compaction, O(meetings), then comes at most once every
// meetings+compactSlack changes, so a change costs O(1) on average.
const compactSlack = 1024

// entry is one line of the journal. A create or update carries the whole record as it
// now is; a delete carries the meeting id.
type entry struct {
	Op     string  `json:"op"`
	ID     int64   `json:"id,omitempty"`
	Record *record `json:"record,omitempty"`
}

// journal is the state file: JSON lines of changes (see the package doc). Its methods
// are called with the Server's lock held.
type journal struct {
	path string
	// f is open for appending; nil once an append has failed, which may have left a
	// torn line, so that the next change rewrites the file first.
	f         *os.File
	lines     int // lines in the file
	compactAt int // the line count at which a change compacts the file
	closed    bool
}

var errClosed = errors.New("sandbox: closed")

// openJournal reads the meetings kept at path, if any, and rewrites the file as a
// compact journal, ready for appending.
func openJournal(path string) (*journal, map[int64]*record, error) {
	recs, err := readState(path)
	if err != nil {
		return nil, nil, err
	}
	j := &journal{path: path}
	if err := j.compact(recs); err != nil {
		return nil, nil, err
	}
	return j, recs, nil
}

// ReadTopics reads the state file at path as New does, without changing it, and
// returns the topics of the meetings it keeps, in meeting id order. The drills count
// the meetings of each booking with it.
func ReadTopics(path string) ([]string, error) {
	recs, err := readState(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox: read state: %w", err)
	}
	var topics []string
	for _, id := range slices.Sorted(maps.Keys(recs)) {
		topics = append(topics, recs[id].Meeting.Topic)
	}
	return topics, nil
}

// readState reads a journal, or a state file of the older format: a JSON array of
// records. A missing file holds no meetings.
func readState(path string) (map[int64]*record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[int64]*record{}, nil
	}
	if err != nil {
		return nil, err
	}

	recs := map[int64]*record{}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var list []*record
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, err
		}
		for _, rec := range list {
			recs[rec.Meeting.ID] = rec
		}
		return recs, nil
	}

	n := 0
	for line := range bytes.Lines(b) {
		n++
		complete := bytes.HasSuffix(line, []byte("\n"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		err := replay(recs, line)
		switch {
		case err != nil && !complete:
			// Only the last line can lack its newline: a write cut short by a crash.
			// Its change was never acknowledged.
			return recs, nil
		case err != nil:
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return recs, nil
}

// replay applies one journal line to recs.
func replay(recs map[int64]*record, line []byte) error {
	var e entry
	if err := json.Unmarshal(line, &e); err != nil {
		return err
	}
	switch {
	case (e.Op == opCreate || e.Op == opUpdate) && e.Record != nil &&
		e.Record.Meeting.ID != 0:
		recs[e.Record.Meeting.ID] = e.Record
	case e.Op == opDelete && e.ID != 0:
		delete(recs, e.ID)
	default:
		return fmt.Errorf("bad change %q", e.Op)
	}
	return nil
}

// append writes one change as a single line, with one write and no fsync: the line is
// in the file as soon as the kernel has it, so it outlives the process, not the
// machine.
func (j *journal) append(e entry, recs map[int64]*record) error {
	if j.closed {
		return errClosed
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if j.f == nil {
		if err := j.compact(recs); err != nil {
			return err
		}
	}
	if _, err := j.f.Write(line); err != nil {
		j.f.Close()
		j.f = nil
		return err
	}
	j.lines++
	return nil
}

// tidy compacts the journal once it has grown past its bound. recs must already hold
// the changes appended. A failure leaves the journal as it was, complete: the next
// try waits another compactSlack changes.
func (j *journal) tidy(recs map[int64]*record) {
	if j.closed || j.f == nil || j.lines < j.compactAt {
		return
	}
	if err := j.compact(recs); err != nil {
		j.compactAt = j.lines + compactSlack
	}
}

// compact rewrites the file as one create line per meeting, through a temporary file
// (synced) and a rename, so that a crash leaves either the old file or the new one.
func (j *journal) compact(recs map[int64]*record) error {
	tmp, err := os.CreateTemp(filepath.Dir(j.path), filepath.Base(j.path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename

	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	for _, id := range slices.Sorted(maps.Keys(recs)) {
		if err := enc.Encode(entry{Op: opCreate, Record: recs[id]}); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := errors.Join(w.Flush(), tmp.Sync()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), j.path); err != nil {
		return err
	}

	// The old file is gone: appends go to the new one, or, if it cannot be opened,
	// the next change compacts again.
	if j.f != nil {
		j.f.Close()
	}
	j.f, err = os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		j.f = nil
		return err
	}
	j.lines = len(recs)
	j.compactAt = 2*len(recs) + compactSlack
	return nil
}

// close releases the file; later changes fail.
func (j *journal) close() error {
	j.closed = true
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
