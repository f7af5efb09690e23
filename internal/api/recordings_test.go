package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/visits"
)

func (f *fakeVisits) PendingDeletions(context.Context) (
	[]visits.PendingDeletion, bool, error) {
	return f.pending, false, nil
}

func TestRetentionRouteListsPendingDeletions(t *testing.T) {
	at := time.Date(2034, 1, 2, 3, 4, 5, 0, time.UTC)
	f := &fakeVisits{pending: []visits.PendingDeletion{{RecordingID: "rec-1",
		WorkflowID: "retention-rec-1", DeleteAt: at, LegalHold: true}}}
	h, _ := visitServer(t, f)

	req := httptest.NewRequest(http.MethodGet, "/recordings/retention", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, http.StatusUnauthorized, w.Code, "needs a key")

	req = httptest.NewRequest(http.MethodGet, "/recordings/retention", nil)
	req.Header.Set("X-API-Key", testKey)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var body struct {
		Data struct {
			Recordings []visits.PendingDeletion `json:"recordings"`
			Truncated  bool                     `json:"truncated"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	require.Len(t, body.Data.Recordings, 1)
	assert.Equal(t, "rec-1", body.Data.Recordings[0].RecordingID)
	assert.True(t, body.Data.Recordings[0].LegalHold)
	assert.True(t, at.Equal(body.Data.Recordings[0].DeleteAt))
}
