// Package ratelimit limits requests per key (an API key id, a client ip) with token
// buckets: in one process with golang.org/x/time/rate, or shared by every API replica
// through Redis.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Limiter decides whether a request under key may go now; when not, it says how long
// to wait.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// maxLocalKeys bounds the local limiter's memory: past it, idle buckets are dropped.
const maxLocalKeys = 10000

// Local is a Limiter for one process.
type Local struct {
	mu      sync.Mutex
	perSec  rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
}

// NewLocal returns a limiter of perSecond requests a second with bursts of burst.
func NewLocal(perSecond float64, burst int) *Local {
	return &Local{perSec: rate.Limit(perSecond), burst: burst,
		buckets: map[string]*rate.Limiter{}}
}

// Allow takes a token from key's bucket.
func (l *Local) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	l.mu.Lock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLocalKeys {
			for k, v := range l.buckets {
				if v.Tokens() >= float64(l.burst) {
					delete(l.buckets, k)
				}
			}
		}
		b = rate.NewLimiter(l.perSec, l.burst)
		l.buckets[key] = b
	}
	l.mu.Unlock()

	r := b.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return false, d, nil
	}
	return true, 0, nil
}

// Redis is a Limiter shared by every process that uses the same Redis.
type Redis struct {
	client *redis.Client
	perSec float64
	burst  int
	prefix string
}

// NewRedis returns a shared limiter on the Redis at url (redis://...).
func NewRedis(url string, perSecond float64, burst int, prefix string) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		// Not wrapped: the parser's message quotes the URL, password and all.
		return nil, errors.New("ratelimit: REDIS_URL is not a redis:// URL")
	}
	return &Redis{client: redis.NewClient(opts), perSec: perSecond, burst: burst,
		prefix: prefix}, nil
}

// Close closes the Redis connection.
func (r *Redis) Close() error { return r.client.Close() }

// bucket is a token bucket in a Redis hash, refilled by the server's clock so that
// replicas with skewed clocks agree. It returns {allowed, wait in ms}.
var bucket = redis.NewScript(`
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(s[1]) or burst
local at = tonumber(s[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local ok, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return {ok, wait}
`)

// Allow takes a token from key's shared bucket.
func (r *Redis) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := bucket.Run(ctx, r.client, []string{r.prefix + key},
		r.perSec, r.burst).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Millisecond, nil
}

// RetryAfterSeconds rounds a wait up to the whole seconds of a Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
