package vendortest

import (
	"io"
	"net/http"
	"testing"
)

// Doxy is a local Doxy.me: the provider's room pages answer 200 with HTML, any
// other path 404, as doxy.me does for a room that does not exist.
type Doxy struct {
	base
	room string
}

// NewDoxy starts a Doxy.me with one room, e.g. "drsmith".
func NewDoxy(t testing.TB, room string) *Doxy {
	d := &Doxy{room: room}
	d.start(t, d.serve)
	return d
}

// RoomURL is the room's address.
func (d *Doxy) RoomURL() string { return d.URL() + "/" + d.room }

func (d *Doxy) serve(w http.ResponseWriter, r *http.Request) {
	_, fault := d.record(r)
	wait(r, fault)
	if fault != nil {
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		w.WriteHeader(fault.Status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method != http.MethodGet || r.URL.Path != "/"+d.room {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "<!doctype html><title>Page not found</title>")
		return
	}
	_, _ = io.WriteString(w, "<!doctype html><title>Check in</title>")
}
