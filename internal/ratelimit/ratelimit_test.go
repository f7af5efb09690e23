package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telehealth/sessions/internal/ratelimit"
)

func exhaust(t *testing.T, l ratelimit.Limiter, key string, burst int) time.Duration {
	t.Helper()
	for i := range burst {
		ok, _, err := l.Allow(t.Context(), key)
		require.NoError(t, err)
		require.True(t, ok, "request %d of the burst", i+1)
	}
	ok, wait, err := l.Allow(t.Context(), key)
	require.NoError(t, err)
	assert.False(t, ok, "one past the burst")
	return wait
}

func TestLocalLimitsEachKeyApart(t *testing.T) {
	l := ratelimit.NewLocal(1, 3)
	wait := exhaust(t, l, "a", 3)
	assert.Greater(t, wait, time.Duration(0))
	assert.LessOrEqual(t, wait, time.Second)
	ok, _, _ := l.Allow(t.Context(), "b")
	assert.True(t, ok, "another key has its own bucket")
}

// TestRedisIsSharedAcrossReplicas runs against this machine's Redis: two limiters,
// as two API replicas would have, drain one bucket.
func TestRedisIsSharedAcrossReplicas(t *testing.T) {
	prefix := fmt.Sprintf("test-rl-%d:", time.Now().UnixNano())
	a, err := ratelimit.NewRedis("redis://127.0.0.1:6379/0", 1, 4, prefix)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	b, err := ratelimit.NewRedis("redis://127.0.0.1:6379/0", 1, 4, prefix)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })

	for range 2 {
		ok, _, err := a.Allow(t.Context(), "key")
		require.NoError(t, err)
		require.True(t, ok)
	}
	wait := exhaust(t, b, "key", 2)
	assert.Greater(t, wait, time.Duration(0))
	assert.LessOrEqual(t, wait, time.Second+50*time.Millisecond)
	assert.Equal(t, 1, ratelimit.RetryAfterSeconds(wait))

	ok, _, err := a.Allow(t.Context(), "other")
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestBadRedisURLKeepsItsPassword(t *testing.T) {
	_, err := ratelimit.NewRedis("redis://user:s3cret-pw@host:notaport/0", 1, 1, "t")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret-pw")
}
