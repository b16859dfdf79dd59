package rediscache_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/aiload/aiload/gateway/semcache"
	"github.com/aiload/aiload/gateway/semcache/rediscache"
	"github.com/aiload/aiload/gateway/semcache/semcachetest"
	"github.com/aiload/aiload/gateway/store/redisstore/redistest"
)

// open returns a store on a real redis-server (skipped when absent) with
// its own key prefix.
func open(t *testing.T, addr string, opts rediscache.Options) *rediscache.Store {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = "t:" + t.Name() + ":"
	}
	s, err := rediscache.Open("redis://"+addr+"/0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestConformance runs the store suite on a real redis-server (plain, no
// module: the sorted-set layout with the gateway scoring candidates).
func TestConformance(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	semcachetest.Run(t, func(t *testing.T) semcache.Store { return open(t, rs.Addr, rediscache.Options{}) })
}

// TestConformanceMiniredis runs the suite on miniredis (an in-process
// Redis with Lua), where redis-server is not installed.
func TestConformanceMiniredis(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	semcachetest.Run(t, func(t *testing.T) semcache.Store { return open(t, mr.Addr(), rediscache.Options{}) })
}

// TestPlainRedisBounds: plain Redis is detected as having no vector
// search; a partition keeps at most MaxEntries (the first to expire
// leave), a lookup compares the MaxCandidates newest entries, and the keys
// carry a real-time TTL so an idle partition is forgotten.
func TestPlainRedisBounds(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	ctx := context.Background()
	t0 := semcachetest.T0
	s := open(t, rs.Addr, rediscache.Options{Prefix: "b:", MaxEntries: 3, MaxCandidates: 2})
	// four entries, later ones expiring later; the first is dropped
	for i, v := range [][]float32{{1, 0}, {0, 1}, {1, 1}, {1, -1}} {
		e := semcache.Entry{Vector: v, TextTokens: int64(i), Expires: t0.Add(time.Duration(i+1) * time.Minute)}
		if err := s.Put(ctx, "p", e, t0); err != nil {
			t.Fatal(err)
		}
	}
	if s.VectorSearch() {
		t.Fatal("plain redis-server taken for one with vector search")
	}
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	zs, err := rdb.Keys(ctx, "b:*:z").Result()
	if err != nil || len(zs) != 1 {
		t.Fatalf("partition keys %v, %v", zs, err)
	}
	if n := rdb.ZCard(ctx, zs[0]).Val(); n != 3 {
		t.Errorf("partition holds %d entries, want MaxEntries 3", n)
	}
	if ttl := rdb.PTTL(ctx, zs[0]).Val(); ttl <= 0 || ttl > 2*4*time.Minute+time.Minute {
		t.Errorf("partition TTL %s, want at most twice the longest duration plus a minute", ttl)
	}
	// {1, 0} itself is gone; of the two newest candidates ({1, -1} and
	// {1, 1}) the lookup finds a nearest, never the older {0, 1}
	h, ok, err := s.Lookup(ctx, "p", []float32{1, 0}, t0)
	if err != nil || !ok || h.Entry.TextTokens == 0 || h.Entry.TextTokens == 1 {
		t.Errorf("lookup: %+v found %v err %v; want one of the two newest entries", h.Entry, ok, err)
	}
	h, ok, _ = s.Lookup(ctx, "p", []float32{0, 1}, t0)
	if !ok || h.Entry.TextTokens == 1 || h.Score < 0.29 {
		t.Errorf("lookup of the third-newest entry's vector: %+v score %g; it is not a candidate", h.Entry, h.Score)
	}
	// expired entries are removed as lookups meet them
	if _, ok, _ := s.Lookup(ctx, "p", []float32{1, 0}, t0.Add(4*time.Minute)); ok {
		t.Error("hit after every expiry")
	}
	if n := rdb.ZCard(ctx, zs[0]).Val(); n != 0 {
		t.Errorf("%d expired entries left in Redis", n)
	}
}

// TestUnreachable: a store whose Redis is down answers errors, promptly.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	s := open(t, rs.Addr, rediscache.Options{Timeout: 200 * time.Millisecond})
	rs.Stop()
	if _, _, err := s.Lookup(context.Background(), "p", []float32{1}, semcachetest.T0); err == nil {
		t.Error("lookup on a stopped Redis: no error")
	}
	if err := s.Put(context.Background(), "p", semcache.Entry{Vector: []float32{1}, Expires: semcachetest.T0.Add(time.Minute)}, semcachetest.T0); err == nil {
		t.Error("put on a stopped Redis: no error")
	}
}
