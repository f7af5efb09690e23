package app_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/telehealth/sessions/activities"
	"github.com/telehealth/sessions/internal/app"
	"github.com/telehealth/sessions/internal/sink"
)

func TestVendorsNameEachActivitysComponent(t *testing.T) {
	outbox := sink.NewOutbox(filepath.Join(t.TempDir(), "outbox.jsonl"))
	acts := &activities.Activities{Mail: outbox, SMS: outbox, Staff: outbox,
		Triggers: outbox, Log: sink.NewSessionLog(filepath.Join(t.TempDir(), "s.csv"))}
	vendor := app.Vendors(acts)

	assert.Equal(t, "outbox", vendor("SendInviteEmail"))
	assert.Equal(t, "outbox", vendor("SendReminder"), "reminders go by mail without Reminders")
	assert.Equal(t, "sessionlog", vendor("RecordSession"))
	assert.Equal(t, "none", vendor("CreateMeeting"), "no platform configured")
	assert.Equal(t, "none", vendor("DeleteRecording"), "no platform configured")
	assert.Equal(t, "temporal", vendor("StartRetention"))
	assert.Equal(t, "audit", vendor("AuditRecordingDeletion"))
	assert.Equal(t, "unknown", vendor("NoSuchActivity"))
}
