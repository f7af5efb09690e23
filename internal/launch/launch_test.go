package launch_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/codec"
	"github.com/telehealth/sessions/internal/launch"
)

func codecOf(t *testing.T, current string, ids ...string) *codec.Codec {
	t.Helper()
	keys := map[string][]byte{}
	for i, id := range ids {
		keys[id] = bytes.Repeat([]byte{byte(i + 1)}, codec.KeySize)
	}
	c, err := codec.New(keys, current)
	require.NoError(t, err)
	return c
}

func TestLinkChecksOnlyForItsSessionAndMeeting(t *testing.T) {
	l := launch.New("https://api.example/", codecOf(t, "k1", "k1"))
	u := l.URL("SESSION-1", "8123")
	prefix := "https://api.example/sessions/SESSION-1/launch/"
	require.True(t, strings.HasPrefix(u, prefix), u)
	token := strings.TrimPrefix(u, prefix)

	assert.NoError(t, l.Check(token, "SESSION-1", "8123"))
	assert.ErrorIs(t, l.Check(token, "SESSION-2", "8123"), launch.ErrBadToken)
	assert.ErrorIs(t, l.Check(token, "SESSION-1", "9999"), launch.ErrBadToken)
	assert.ErrorIs(t, l.Check(token[:len(token)-1]+"A", "SESSION-1", "8123"),
		launch.ErrBadToken)
	assert.ErrorIs(t, l.Check("", "SESSION-1", "8123"), launch.ErrBadToken)
	assert.ErrorIs(t, l.Check("nokey.abc", "SESSION-1", "8123"), launch.ErrBadToken)
}

func TestLinksSurviveKeyRotation(t *testing.T) {
	before := launch.New("http://x", codecOf(t, "old", "old"))
	token := strings.TrimPrefix(before.URL("S", "1"), "http://x/sessions/S/launch/")

	after := launch.New("http://x", codecOf(t, "new", "old", "new"))
	assert.NoError(t, after.Check(token, "S", "1"))
	assert.Contains(t, after.URL("S", "1"), "/launch/new.")

	dropped := launch.New("http://x", codecOf(t, "new", "new"))
	assert.ErrorIs(t, dropped.Check(token, "S", "1"), launch.ErrBadToken)
}
