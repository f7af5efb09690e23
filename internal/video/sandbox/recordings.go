package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Recording endpoints, for fault injection.
const (
	// DeleteRecordings is the endpoint of DELETE /meetings/{meetingUUID}/recordings.
	DeleteRecordings Endpoint = "delete recordings"
	// DownloadRecording is the endpoint of GET /rec/download/{fileId}.
	DownloadRecording Endpoint = "download recording"
)

// downloadTokenTTL is how long a recording.completed's download_token works, as on
// Zoom.
const downloadTokenTTL = 24 * time.Hour

// recording is one meeting instance's cloud recording. Recordings live in memory only.
type recording struct {
	meeting    meeting
	uuid       string // the instance's
	start, end time.Time
	files      []recordingFile
	token      string // the download_token sent with recording.completed
	tokenUntil time.Time
	// deleted is "" while the recording exists, or how it was last deleted ("trash"
	// or "delete"); deletes counts the deletions that found it.
	deleted string
	deletes int
}

// recordingFile is one file of a recording.
type recordingFile struct {
	id, fileType, extension, recordingType string
	size                                   int64
}

// AddRecording gives a meeting instance (its UUID) a cloud recording that the
// delete-recordings call can then remove, without sending any event.
func (s *Server) AddRecording(meetingUUID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addRecordingLocked(&recording{uuid: meetingUUID})
}

func (s *Server) addRecordingLocked(r *recording) {
	if s.recordings == nil {
		s.recordings = map[string]*recording{}
	}
	s.recordings[r.uuid] = r
}

// Recording reports whether a meeting instance still has its recording, and how it
// was last deleted ("trash" or "delete") if it was moved to the trash.
func (s *Server) Recording(meetingUUID string) (exists bool, deletedAs string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recordings[meetingUUID]
	if !ok {
		return false, ""
	}
	return r.deleted != "delete", r.deleted
}

// RecordingDeletes counts the delete-recordings calls that found the meeting
// instance's recording.
func (s *Server) RecordingDeletes(meetingUUID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.recordings[meetingUUID]; r != nil {
		return r.deletes
	}
	return 0
}

// RecordedInstances lists the UUIDs of the meeting's recorded instances, in the
// order they ended.
func (s *Server) RecordedInstances(meetingID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var recs []*recording
	for _, r := range s.recordings {
		if strconv.FormatInt(r.meeting.ID, 10) == meetingID {
			recs = append(recs, r)
		}
	}
	slices.SortFunc(recs, func(a, b *recording) int { return a.end.Compare(b.end) })
	var uuids []string
	for _, r := range recs {
		uuids = append(uuids, r.uuid)
	}
	return uuids
}

// recordEnded keeps the cloud recording of a meeting instance that the host started
// and that has just ended, when the meeting records to the cloud (auto_recording
// "cloud"), and sends recording.completed for it.
func (s *Server) recordEnded(ctx context.Context, meetingID, instance string,
	start, end time.Time) error {
	s.mu.Lock()
	rec := s.recordLocked(meetingID)
	if rec == nil || start.IsZero() || rec.Meeting.Settings["auto_recording"] != "cloud" {
		s.mu.Unlock()
		return nil
	}
	secs := int64(max(end.Sub(start), time.Second) / time.Second)
	r := &recording{
		meeting: rec.Meeting, uuid: instance, start: start, end: end,
		token: rand.Text(), tokenUntil: time.Now().Add(downloadTokenTTL),
		files: []recordingFile{
			{id: newFileID(), fileType: "MP4", extension: "MP4",
				recordingType: "shared_screen_with_speaker_view", size: 40_000 * secs},
			{id: newFileID(), fileType: "M4A", extension: "M4A",
				recordingType: "audio_only", size: 4_000 * secs},
		},
	}
	s.addRecordingLocked(r)
	s.mu.Unlock()
	return s.Send(ctx, completedEvent(s.opts.AccountID, r))
}

// newFileID is a Zoom-looking recording file id.
func newFileID() string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", randomBytes(4), randomBytes(2), randomBytes(2),
		randomBytes(2), randomBytes(6))
}

// completedEvent is Zoom's recording.completed event for r: the download_token beside
// the payload, each file with its download_url and play_url.
func completedEvent(account string, r *recording) map[string]any {
	m := r.meeting
	base := ""
	if u, err := url.Parse(m.JoinURL); err == nil && u.Host != "" {
		base = u.Scheme + "://" + u.Host
	}
	var files []map[string]any
	var total int64
	for _, f := range r.files {
		total += f.size
		files = append(files, map[string]any{
			"id": f.id, "meeting_id": r.uuid,
			"recording_start": r.start.UTC().Format(zoomTime),
			"recording_end":   r.end.UTC().Format(zoomTime),
			"file_type":       f.fileType, "file_extension": f.extension,
			"file_size": f.size, "recording_type": f.recordingType,
			"play_url":     base + "/rec/play/" + f.id,
			"download_url": base + "/rec/download/" + f.id,
			"status":       "completed",
		})
	}
	return map[string]any{
		"event":          "recording.completed",
		"event_ts":       time.Now().UnixMilli(),
		"download_token": r.token,
		"payload": map[string]any{"account_id": account, "object": map[string]any{
			"uuid": r.uuid, "id": m.ID, "account_id": account, "host_id": m.HostID,
			"topic": m.Topic, "type": m.Type, "start_time": r.start.UTC().Format(zoomTime),
			"timezone": m.Timezone, "host_email": m.HostEmail,
			"duration":        int(max(r.end.Sub(r.start), 0) / time.Minute),
			"total_size":      total,
			"recording_count": len(files),
			"share_url":       base + "/rec/share/" + r.uuid,
			"password":        m.Password,
			"recording_files": files,
		}},
	}
}

// downloadRecording is GET /rec/download/{fileId}: the file's bytes, for the
// recording.completed's download_token (access_token query or bearer) or an API
// token. A deleted or trashed recording is not found, as on Zoom.
func (s *Server) downloadRecording(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("fileId")
	token := r.URL.Query().Get("access_token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	now := time.Now()
	s.mu.Lock()
	var rec *recording
	var file recordingFile
	for _, c := range s.recordings {
		for _, f := range c.files {
			if f.id == id {
				rec, file = c, f
			}
		}
	}
	exp, apiToken := s.tokens[token]
	authed := token != "" && ((apiToken && now.Before(exp)) || (rec != nil &&
		now.Before(rec.tokenUntil) &&
		subtle.ConstantTimeCompare([]byte(token), []byte(rec.token)) == 1))
	gone := rec == nil || rec.deleted != ""
	s.mu.Unlock()
	switch {
	case !authed:
		writeJSON(w, http.StatusUnauthorized,
			apiError{Code: 124, Message: "Invalid access token."})
	case gone:
		writeJSON(w, http.StatusNotFound, noRecording())
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition",
			fmt.Sprintf("attachment; filename=%q", id+"."+strings.ToLower(file.extension)))
		fmt.Fprintf(w, "sandbox recording %s %s\n", file.recordingType, id)
	}
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
	rec := s.recordings[uuid]
	found := rec != nil && rec.deleted != "delete"
	if found {
		rec.deleted = action
		rec.deletes++
	}
	s.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, noRecording())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func noRecording() apiError {
	return apiError{Code: 3301, Message: "There is no recording for this meeting."}
}
