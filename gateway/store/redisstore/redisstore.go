// Package redisstore keeps the gateway's token counters in Redis, so that
// several gateway instances enforce one limit together, as API Management's
// self-hosted gateways synchronise counters within a cluster.
//
// Each store.Store operation is one Lua script, executed atomically by
// Redis: the sliding tokens-per-minute window is a sorted set of charge
// instants with a hash of their tokens (and a running total), a period quota
// is one counter per period start. Times travel as integer microseconds, and
// "now" is the gateway's clock (not Redis's), so a virtual or fake clock
// works as it does in memory. All keys of one request must live on one
// Redis node: use a single server (with replicas), not Redis Cluster.
package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aiload/aiload/gateway/store"
)

var (
	//go:embed common.lua
	commonLua string
	//go:embed reserve.lua
	reserveLua string
	//go:embed settle.lua
	settleLua string
)

// FailMode says what the gateway does while Redis cannot be reached.
type FailMode string

const (
	// FailOpen admits requests unchecked while Redis is down (availability
	// first; limits are not enforced meanwhile).
	FailOpen FailMode = "fail_open"
	// FailClosed refuses requests while Redis is down: Reserve returns
	// ErrUnavailable and the gateway answers 503 with Retry-After.
	FailClosed FailMode = "fail_closed"
)

// ErrUnavailable is returned (wrapped) by a FailClosed store that cannot
// reach Redis.
var ErrUnavailable = errors.New("counter store unavailable")

// Options configure a Store. The zero value means prefix "aiload:",
// FailClosed, and a 250 ms timeout per operation.
type Options struct {
	// Prefix starts every key (default "aiload:").
	Prefix string
	// FailMode applies when Redis fails (default FailClosed).
	FailMode FailMode
	// Timeout bounds each operation (default 250 ms); a slow Redis counts
	// as a failure.
	Timeout time.Duration
	// OnStateChange, when set, is called when Redis becomes unreachable
	// (err != nil) and when it is reachable again (err == nil).
	OnStateChange func(err error)
}

// Store is a store.Store backed by Redis. Safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	opts    Options
	reserve *redis.Script
	settle  *redis.Script

	mu   sync.Mutex
	down bool
}

var _ store.Store = (*Store)(nil)

// New returns a Store using rdb. It does not contact Redis.
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = "aiload:"
	}
	switch opts.FailMode {
	case "":
		opts.FailMode = FailClosed
	case FailOpen, FailClosed:
	default:
		return nil, fmt.Errorf("redis counter store: fail mode must be %s or %s, got %q", FailOpen, FailClosed, opts.FailMode)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 250 * time.Millisecond
	}
	return &Store{rdb: rdb, opts: opts, reserve: redis.NewScript(commonLua + reserveLua), settle: redis.NewScript(commonLua + settleLua)}, nil
}

// Open parses a redis:// URL (redis://host:port/db, with optional user,
// password and rediss:// for TLS) and returns a Store on it.
func Open(url string, opts Options) (*Store, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis counter store: parse %q: %w", url, err)
	}
	o.MaxRetries = -1 // a failed operation is reported at once, not retried
	return New(redis.NewClient(o), opts)
}

// Close closes the Redis client.
func (s *Store) Close() error { return s.rdb.Close() }

func us(t time.Time) int64 { return t.UnixMicro() }

// ttl is how long a counter key outlives its last write (ms): its span plus
// a minute of slack.
func ttl(d time.Duration) int64 { return (d + time.Minute).Milliseconds() }

func (s *Store) windowKeys(key string) (string, string) {
	return s.opts.Prefix + "tpm:" + key + ":z", s.opts.Prefix + "tpm:" + key + ":h"
}

func (s *Store) periodKey(c store.Check, at time.Time) (string, time.Time, time.Time) {
	start, end := c.Bounds(at)
	return s.opts.Prefix + "quota:" + c.PeriodID() + ":" + strconv.FormatInt(us(start), 10) + ":" + c.Key, start, end
}

// Reserve implements store.Store.
func (s *Store) Reserve(ctx context.Context, now time.Time, checks []store.Check) (store.Verdict, error) {
	keys := make([]string, 0, 2*len(checks))
	args := make([]any, 0, 2+6*len(checks))
	args = append(args, us(now), len(checks))
	for _, c := range checks {
		if c.Kind == store.Period {
			k, _, end := s.periodKey(c, now)
			keys = append(keys, k)
			args = append(args, "p", c.Limit, c.Need, c.Reserve, us(end), ttl(end.Sub(now)))
			continue
		}
		z, h := s.windowKeys(c.Key)
		keys = append(keys, z, h)
		args = append(args, "w", c.Limit, c.Need, c.Reserve, c.WindowSpan().Microseconds(), ttl(c.WindowSpan()))
	}
	vals, err := s.run(ctx, s.reserve, keys, args)
	if err != nil {
		return s.failedReserve(checks, err)
	}
	if len(vals) != 3+len(checks) {
		return store.Verdict{}, fmt.Errorf("redis reserve: %d values for %d checks", len(vals), len(checks))
	}
	v := store.Verdict{Allowed: vals[0] == 1, Denied: int(vals[1]), RetryAfter: time.Duration(vals[2]) * time.Microsecond}
	v.Remaining = vals[3:]
	return v, nil
}

// Settle implements store.Store.
func (s *Store) Settle(ctx context.Context, now, reservedAt time.Time, checks []store.Check, actual int64) ([]int64, error) {
	keys := make([]string, 0, 2*len(checks))
	args := make([]any, 0, 4+5*len(checks))
	args = append(args, us(now), us(reservedAt), actual, len(checks))
	for _, c := range checks {
		if c.Kind == store.Period {
			k, start, end := s.periodKey(c, now)
			at := now
			if c.Reserve > 0 {
				at = reservedAt
			}
			same := 0
			if atStart, _ := c.Bounds(at); atStart.Equal(start) {
				same = 1
			}
			keys = append(keys, k)
			args = append(args, "p", c.Limit, c.Reserve, same, ttl(end.Sub(now)))
			continue
		}
		z, h := s.windowKeys(c.Key)
		keys = append(keys, z, h)
		args = append(args, "w", c.Limit, c.Reserve, c.WindowSpan().Microseconds(), ttl(c.WindowSpan()))
	}
	vals, err := s.run(ctx, s.settle, keys, args)
	if err != nil {
		if s.opts.FailMode == FailOpen {
			return limits(checks), nil
		}
		return nil, fmt.Errorf("redis settle: %w: %w", ErrUnavailable, err)
	}
	return vals, nil
}

// run executes a script within the timeout and tracks Redis's state.
func (s *Store) run(ctx context.Context, sc *redis.Script, keys []string, args []any) ([]int64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.Timeout)
	defer cancel()
	vals, err := sc.Run(ctx, s.rdb, keys, args...).Int64Slice()
	s.observe(err)
	return vals, err
}

// observe reports transitions between reachable and unreachable.
func (s *Store) observe(err error) {
	s.mu.Lock()
	changed := (err != nil) != s.down
	s.down = err != nil
	s.mu.Unlock()
	if changed && s.opts.OnStateChange != nil {
		s.opts.OnStateChange(err)
	}
}

// failedReserve applies the fail mode to a Reserve that could not reach Redis.
func (s *Store) failedReserve(checks []store.Check, err error) (store.Verdict, error) {
	if s.opts.FailMode == FailOpen {
		return store.Verdict{Allowed: true, Denied: -1, Remaining: limits(checks)}, nil
	}
	return store.Verdict{}, fmt.Errorf("redis reserve: %w: %w", ErrUnavailable, err)
}

// limits is each check's limit: what a fail-open store reports as remaining.
func limits(checks []store.Check) []int64 {
	out := make([]int64, len(checks))
	for i, c := range checks {
		out[i] = c.Limit
	}
	return out
}
