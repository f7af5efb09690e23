package vendortest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// calEvent is a Calendar event as the fake keeps it.
type calEvent map[string]any

// eventIDRule is Calendar's rule for client-chosen event ids: base32hex characters
// (a-v, 0-9), 5 to 1024 of them.
var eventIDRule = regexp.MustCompile(`^[a-v0-9]{5,}$`)

// Events returns a calendar's live events by id.
func (g *Google) Events(calendarID string) map[string]map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]map[string]any{}
	for id, e := range g.events[calendarID] {
		out[id] = *e
	}
	return out
}

func (g *Google) calendarCall(r *http.Request, body []byte) (int, any) {
	rest := strings.TrimPrefix(r.URL.Path, "/calendar/v3/calendars/")
	cal, tail, _ := strings.Cut(rest, "/events")
	eventID := strings.TrimPrefix(tail, "/")
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.events[cal] == nil {
		g.events[cal] = map[string]*calEvent{}
	}
	events := g.events[cal]
	notFound := googleError(404, "NOT_FOUND", "Not Found")

	switch {
	case r.Method == http.MethodPost && eventID == "":
		if r.URL.Query().Get("conferenceDataVersion") != "1" {
			return 400, googleError(400, "INVALID_ARGUMENT",
				"conferenceDataVersion must be 1 to create conference data")
		}
		var e calEvent
		if json.Unmarshal(body, &e) != nil {
			return 400, googleError(400, "INVALID_ARGUMENT", "Parse Error")
		}
		id, _ := e["id"].(string)
		if id != "" && (!eventIDRule.MatchString(id) || len(id) > 1024) {
			return 400, googleError(400, "INVALID_ARGUMENT", "Invalid resource id value.")
		}
		if events[id] != nil || g.deleted[cal+"/"+id] {
			return 409, googleError(409, "ALREADY_EXISTS",
				"The requested identifier already exists.")
		}
		if !hasTime(e, "start") || !hasTime(e, "end") {
			return 400, googleError(400, "INVALID_ARGUMENT", "Missing end time.")
		}
		cd, _ := e["conferenceData"].(map[string]any)
		cr, _ := cd["createRequest"].(map[string]any)
		key, _ := cr["conferenceSolutionKey"].(map[string]any)
		if rid, _ := cr["requestId"].(string); rid == "" || key["type"] != "hangoutsMeet" {
			return 400, googleError(400, "INVALID_ARGUMENT", "Invalid conference type value.")
		}
		code := meetCode(id)
		cr["status"] = map[string]any{"statusCode": "success"}
		e["conferenceData"] = map[string]any{
			"createRequest": cr,
			"entryPoints": []map[string]any{{
				"entryPointType": "video", "uri": "https://meet.google.com/" + code,
				"label": "meet.google.com/" + code,
			}},
			"conferenceSolution": map[string]any{
				"key": map[string]any{"type": "hangoutsMeet"}, "name": "Google Meet"},
			"conferenceId": code,
		}
		e["hangoutLink"] = "https://meet.google.com/" + code
		e["status"] = "confirmed"
		e["kind"] = "calendar#event"
		events[id] = &e
		return 200, e
	case eventID == "":
		return 404, notFound
	}

	e := events[eventID]
	if e == nil {
		if g.deleted[cal+"/"+eventID] {
			return 410, googleError(410, "GONE", "Resource has been deleted")
		}
		return 404, notFound
	}
	switch r.Method {
	case http.MethodGet:
		return 200, *e
	case http.MethodPatch:
		var patch map[string]any
		if json.Unmarshal(body, &patch) != nil {
			return 400, googleError(400, "INVALID_ARGUMENT", "Parse Error")
		}
		for k, v := range patch {
			(*e)[k] = v
		}
		return 200, *e
	case http.MethodDelete:
		delete(events, eventID)
		g.deleted[cal+"/"+eventID] = true
		return http.StatusNoContent, nil
	}
	return 404, notFound
}

func hasTime(e calEvent, field string) bool {
	t, _ := e[field].(map[string]any)
	dt, _ := t["dateTime"].(string)
	return dt != ""
}

// meetCode is a Meet-style code (abc-defg-hij) derived from the event id.
func meetCode(id string) string {
	var b []byte
	for i := 0; len(b) < 10; i++ {
		c := id[i%len(id)]
		if c >= '0' && c <= '9' {
			c = 'a' + (c - '0')
		}
		b = append(b, 'a'+(c-'a')%26)
	}
	return string(b[:3]) + "-" + string(b[3:7]) + "-" + string(b[7:10])
}
