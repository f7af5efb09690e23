package app_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/telehealth/sessions/internal/api"
	"github.com/telehealth/sessions/internal/app"
	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/config"
	"github.com/telehealth/sessions/internal/temporalx"
	"github.com/telehealth/sessions/internal/video/sandbox"
	"github.com/telehealth/sessions/workflows"
)

// TestKeyRotation starts a session under the old key (the API seals its input while no
// worker runs), then rotates: a worker and API with both keys, the new one current,
// take the session over and finish it (the platform refuses, so it fails for good). The
// history holds payloads sealed with each key, and the new side reads both.
func TestKeyRotation(t *testing.T) {
	oldKey, err := codec.NewKey("old")
	require.NoError(t, err)
	newKey, err := codec.NewKey("new")
	require.NoError(t, err)
	codecOf := func(spec, current string) *codec.Codec {
		keys, err := codec.ParseKeys(spec)
		require.NoError(t, err)
		c, err := codec.New(keys, current)
		require.NoError(t, err)
		return c
	}
	quiet := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	queue := uniqueID("rotation")

	// Before: only the old key, and no worker yet.
	before, err := temporalx.Dial(devServer, "default", quiet, codecOf(oldKey, "old"))
	require.NoError(t, err)
	t.Cleanup(before.Close)
	cfg, err := config.FromMap(map[string]string{"SESSION_CREATE_WAIT": "500ms"})
	require.NoError(t, err)
	h, err := api.New(app.APIConfig(cfg), &api.Temporal{Client: before, TaskQueue: queue},
		quiet)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	id := uniqueID("ROTATE")
	code, body := (&stack{api: srv}).post(t, booking(id, time.Now().Add(time.Hour), 30))
	require.Equal(t, http.StatusAccepted, code, body)

	// After: both keys, the new one current; the platform refuses the meeting.
	rotated := codecOf(oldKey+","+newKey, "new")
	after, err := temporalx.Dial(devServer, "default", quiet, rotated)
	require.NoError(t, err)
	t.Cleanup(after.Close)
	startStackWith(t, map[string]string{
		"TASK_QUEUE": queue, "PAYLOAD_KEYS": oldKey + "," + newKey, "PAYLOAD_KEY_ID": "new",
	}, after, quiet, stackOption{sandbox: func(sb *sandbox.Server) {
		sb.InjectNext(sandbox.CreateMeeting, 1, sandbox.Fault{Status: 400, Code: 300})
	}})

	err = after.GetWorkflow(t.Context(), workflows.WorkflowID(id), "").Get(t.Context(), nil)
	require.Error(t, err)
	assert.ErrorContains(t, err, "status 400", "the failure, decoded with the new key")

	// The raw history: the input under the old key, later payloads under the new.
	ids := map[string]int{}
	var sealedNew *commonpb.Payload
	iter := rawClient.GetWorkflowHistory(t.Context(), workflows.WorkflowID(id), "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			assert.Equal(t, "old",
				string(a.Input.Payloads[0].Metadata[codec.MetadataKeyID]))
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			p := a.Input.Payloads[0]
			ids[string(p.Metadata[codec.MetadataKeyID])]++
			if string(p.Metadata[codec.MetadataKeyID]) == "new" {
				sealedNew = p
			}
		}
	}
	assert.Zero(t, ids["old"], "nothing new is sealed with the old key")
	require.NotNil(t, sealedNew)
	_, err = codecOf(oldKey, "old").Decode([]*commonpb.Payload{sealedNew})
	assert.ErrorIs(t, err, codec.ErrUnknownKey, "a process with only the old key")
	_, err = rotated.Decode([]*commonpb.Payload{sealedNew})
	assert.NoError(t, err)
}
