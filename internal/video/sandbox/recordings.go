package sandbox

import (
	"net/http"
	"net/url"
	"strings"
)

// DeleteRecordings is the endpoint of DELETE /meetings/{meetingUUID}/recordings.
const DeleteRecordings Endpoint = "delete recordings"

// TODO(#6): record the meetings played here and send recording.completed when one
// ends, so that retention plays locally too.

// AddRecording gives a meeting instance (its UUID) a cloud recording that the
// delete-recordings call can then remove. Recordings live in memory only.
func (s *Server) AddRecording(meetingUUID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recordings == nil {
		s.recordings = map[string]string{}
	}
	s.recordings[meetingUUID] = ""
}

// Recording reports whether a meeting instance still has its recording, and how it
// was last deleted ("trash" or "delete") if it was moved to the trash.
func (s *Server) Recording(meetingUUID string) (exists bool, deletedAs string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	how, ok := s.recordings[meetingUUID]
	return ok && how != "delete", how
}

// deleteRecordings is Zoom's delete of a meeting instance's recordings. The UUID comes
// escaped once, or twice when it begins with "/" or holds "//", as Zoom requires: a
// UUID like that escaped only once is not found, as on Zoom.
func (s *Server) deleteRecordings(w http.ResponseWriter, r *http.Request) {
	uuid := r.PathValue("meetingId")
	if strings.HasPrefix(uuid, "/") || strings.Contains(uuid, "//") {
		writeJSON(w, http.StatusNotFound, noRecording())
		return
	}
	if strings.Contains(uuid, "%") {
		var err error
		if uuid, err = url.PathUnescape(uuid); err != nil {
			writeJSON(w, http.StatusBadRequest, invalidField("meetingId"))
			return
		}
	}
	action := r.URL.Query().Get("action")
	switch action {
	case "":
		action = "trash"
	case "trash", "delete":
	default:
		writeJSON(w, http.StatusBadRequest, invalidField("action"))
		return
	}
	s.mu.Lock()
	how, found := s.recordings[uuid]
	if found && how != "delete" {
		s.recordings[uuid] = action
	}
	s.mu.Unlock()
	if !found || how == "delete" {
		writeJSON(w, http.StatusNotFound, noRecording())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func noRecording() apiError {
	return apiError{Code: 3301, Message: "There is no recording for this meeting."}
}
