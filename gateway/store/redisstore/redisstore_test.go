package redisstore

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/aiload/aiload/gateway/store"
	"github.com/aiload/aiload/gateway/store/redisstore/redistest"
	"github.com/aiload/aiload/gateway/store/storetest"
)

// TestConformanceMiniredis runs the shared store suite over miniredis (an
// in-process Redis with a Lua interpreter).
func TestConformanceMiniredis(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		mr := miniredis.RunT(t)
		// a generous timeout: 50 concurrent scripts on a busy machine must not fail the suite
		s, err := New(redis.NewClient(&redis.Options{Addr: mr.Addr()}), Options{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestConformanceRedisServer runs the same suite over a real redis-server.
func TestConformanceRedisServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	n := 0
	var mu sync.Mutex
	storetest.Run(t, func(t *testing.T) store.Store {
		mu.Lock()
		n++
		prefix := "t" + strconv.Itoa(n) + ":" // a fresh key space per case
		mu.Unlock()
		s, err := New(rdb, Options{Prefix: prefix, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestNewRejectsUnknownFailMode(t *testing.T) {
	t.Parallel()
	if _, err := New(redis.NewClient(&redis.Options{}), Options{FailMode: "maybe"}); err == nil {
		t.Fatal("New accepted fail mode \"maybe\"")
	}
}

// TestFailModes stops Redis and checks both modes, the state callbacks and
// recovery when Redis returns.
func TestFailModes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	checks := []store.Check{{Key: "f", Kind: store.Window, Limit: 100, Need: 1}}
	var mu sync.Mutex
	var events []string
	record := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			events = append(events, "down")
		} else {
			events = append(events, "up")
		}
	}
	newStore := func(mode FailMode) *Store {
		s, err := Open("redis://"+srv.Addr+"/0", Options{FailMode: mode, OnStateChange: record, Timeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	open, closed := newStore(FailOpen), newStore(FailClosed)
	for _, s := range []*Store{open, closed} {
		if v, err := s.Reserve(ctx, time.Now(), checks); err != nil || !v.Allowed {
			t.Fatalf("with Redis up: %+v, %v", v, err)
		}
	}

	srv.Stop()
	if v, err := open.Reserve(ctx, time.Now(), checks); err != nil || !v.Allowed || v.Remaining[0] != 100 {
		t.Fatalf("fail_open with Redis down: %+v, %v; want allowed, remaining = limit", v, err)
	}
	if _, err := closed.Reserve(ctx, time.Now(), checks); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("fail_closed with Redis down: err %v, want ErrUnavailable", err)
	}

	srv.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := closed.Reserve(ctx, time.Now(), checks)
		if err == nil && v.Allowed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fail_closed store did not recover after Redis returned: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := open.Reserve(ctx, time.Now(), checks); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"down": 2, "up": 2}
	got := map[string]int{}
	for _, e := range events {
		got[e]++
	}
	if got["down"] != want["down"] || got["up"] != want["up"] {
		t.Fatalf("state changes %v, want each store to go down once and up once", events)
	}
}
