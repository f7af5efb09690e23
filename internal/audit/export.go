package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// CSVColumns are the columns of the CSV export; detail came last, after the hashes,
// so that readers of the older columns keep their positions.
var CSVColumns = []string{"seq", "time", "actor", "client_ip", "session_id", "action",
	"outcome", "prev_hash", "hash", "detail"}

// WriteCSV writes every entry as CSV with a header row.
func (l *Log) WriteCSV(ctx context.Context, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	err := l.Each(ctx, func(e Entry) error {
		return cw.Write([]string{strconv.FormatInt(e.Seq, 10),
			e.Time.Format(time.RFC3339Nano), e.Actor, e.ClientIP, e.SessionID, e.Action,
			e.Outcome, e.PrevHash, e.Hash, e.Detail})
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// WriteJSONL writes every entry as one JSON object a line.
func (l *Log) WriteJSONL(ctx context.Context, w io.Writer) error {
	enc := json.NewEncoder(w)
	return l.Each(ctx, func(e Entry) error { return enc.Encode(e) })
}
