package semcache_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/semcache"
	"github.com/aiload/aiload/gateway/semcache/semcachetest"
)

var t0 = semcachetest.T0

// TestMemory runs the store suite over the in-memory store.
func TestMemory(t *testing.T) {
	t.Parallel()
	semcachetest.Run(t, func(*testing.T) semcache.Store { return semcache.NewMemory() })
}

// TestMemoryLen: expired entries are forgotten.
func TestMemoryLen(t *testing.T) {
	t.Parallel()
	m := semcache.NewMemory()
	for i, ttl := range []time.Duration{time.Minute, 2 * time.Minute} {
		if err := m.Put(context.Background(), "p", semcache.Entry{Vector: []float32{1, float32(i)}, Expires: t0.Add(ttl)}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.Len(t0.Add(time.Minute)); n != 1 {
		t.Errorf("%d entries live after the first expiry, want 1", n)
	}
	if n := m.Len(t0.Add(2 * time.Minute)); n != 0 {
		t.Errorf("%d entries left after every expiry", n)
	}
}

// TestScore: 0 for the same direction, 1 for orthogonal or empty vectors.
func TestScore(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 2}, []float32{2, 4}, 0},
		{[]float32{1, 0}, []float32{0, 1}, 1},
		{[]float32{0, 0}, []float32{0, 1}, 1},
		{[]float32{1}, []float32{1, 0}, 1},
	} {
		if got := semcache.Score(c.a, c.b); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Score(%v, %v) = %g, want %g", c.a, c.b, got, c.want)
		}
	}
}

// TestMaxEntries: a full partition drops its oldest entry.
func TestMaxEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := semcache.NewMemory()
	m.MaxEntries = 2
	for i, v := range [][]float32{{1, 0}, {0, 1}, {1, 1}} {
		_ = m.Put(ctx, "p", semcache.Entry{Vector: v, TextTokens: int64(i), Expires: t0.Add(time.Hour)}, t0)
	}
	if h, ok, _ := m.Lookup(ctx, "p", []float32{1, 0}, t0); !ok || h.Entry.TextTokens == 0 {
		t.Errorf("oldest entry still served: %+v", h)
	}
	if n := m.Len(t0); n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
}
