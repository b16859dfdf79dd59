package semcache_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/semcache"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// TestMemory: the nearest live entry of the partition comes back with its
// score; other partitions and expired entries never do.
func TestMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := semcache.NewMemory()
	a := []float32{1, 0, 0}
	b := []float32{0.8, 0.6, 0}
	put := func(p string, v []float32, text string, ttl time.Duration) {
		if err := m.Put(ctx, p, semcache.Entry{Vector: v, Text: text, Expires: t0.Add(ttl)}, t0); err != nil {
			t.Fatal(err)
		}
	}
	put("sub-1", a, "a", time.Minute)
	put("sub-1", b, "b", 2*time.Minute)
	put("sub-2", []float32{0, 1, 0}, "other", time.Minute)

	for _, c := range []struct {
		name      string
		partition string
		v         []float32
		at        time.Time
		want      string // "" = no hit
		score     float64
	}{
		{"same vector", "sub-1", a, t0, "a", 0},
		{"nearest of two", "sub-1", []float32{0.7, 0.7, 0}, t0, "b", 1 - (0.8*0.7+0.6*0.7)/math.Hypot(0.7, 0.7)},
		{"other partition", "sub-3", a, t0, "", 0},
		{"a expired at its expiry, b left", "sub-1", a, t0.Add(time.Minute), "b", 0.2},
		{"all expired", "sub-1", a, t0.Add(2 * time.Minute), "", 0},
	} {
		h, ok, err := m.Lookup(ctx, c.partition, c.v, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if (c.want == "") == ok || ok && (h.Entry.Text != c.want || math.Abs(h.Score-c.score) > 1e-6) {
			t.Errorf("%s: got %q score %g found %v, want %q score %g", c.name, h.Entry.Text, h.Score, ok, c.want, c.score)
		}
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
