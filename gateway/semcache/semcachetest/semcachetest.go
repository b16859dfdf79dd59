// Package semcachetest is the conformance suite every semcache.Store
// passes: nearest live entry per partition, its score, expiry on the
// caller's clock, and the entry's fields kept as they were put.
package semcachetest

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/semcache"
)

// T0 is the suite's start instant.
var T0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Run runs the suite on the fresh, empty stores newStore returns.
func Run(t *testing.T, newStore func(t *testing.T) semcache.Store) {
	t.Run("nearest live entry per partition", func(t *testing.T) { nearest(t, newStore(t)) })
	t.Run("entry fields kept", func(t *testing.T) { fields(t, newStore(t)) })
}

func nearest(t *testing.T, m semcache.Store) {
	ctx := context.Background()
	a := []float32{1, 0, 0}
	b := []float32{0.8, 0.6, 0}
	put := func(p string, v []float32, text string, ttl time.Duration) {
		t.Helper()
		if err := m.Put(ctx, p, semcache.Entry{Vector: v, Text: text, Expires: T0.Add(ttl)}, T0); err != nil {
			t.Fatal(err)
		}
	}
	put("sub-1", a, "a", time.Minute)
	put("sub-1", b, "b", 2*time.Minute)
	put("sub-2", []float32{0, 1, 0}, "other", time.Minute)
	put("sub-1\x00x", []float32{0, 1, 0}, "prefix-alike partition", time.Minute)

	for _, c := range []struct {
		name      string
		partition string
		v         []float32
		at        time.Time
		want      string // "" = no hit
		score     float64
	}{
		{"same vector", "sub-1", a, T0, "a", 0},
		{"nearest of two", "sub-1", []float32{0.7, 0.7, 0}, T0, "b", 1 - (0.8*0.7+0.6*0.7)/math.Hypot(0.7, 0.7)},
		{"other partition", "sub-3", a, T0, "", 0},
		{"a expired at its expiry, b left", "sub-1", a, T0.Add(time.Minute), "b", 0.2},
		{"all expired", "sub-1", a, T0.Add(2 * time.Minute), "", 0},
	} {
		h, ok, err := m.Lookup(ctx, c.partition, c.v, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if (c.want == "") == ok || ok && (h.Entry.Text != c.want || math.Abs(h.Score-c.score) > 1e-6) {
			t.Errorf("%s: got %q score %g found %v, want %q score %g", c.name, h.Entry.Text, h.Score, ok, c.want, c.score)
		}
	}
}

func fields(t *testing.T, m semcache.Store) {
	ctx := context.Background()
	e := semcache.Entry{Vector: []float32{0.25, -1.5, 3}, Body: []byte(`{"id":"chatcmpl-1"}`), Text: "hello", TextTokens: 1, FinishReason: "length",
		PromptTokens: 12, CompletionTokens: 34, Expires: T0.Add(90 * time.Second)}
	if err := m.Put(ctx, "p", e, T0); err != nil {
		t.Fatal(err)
	}
	h, ok, err := m.Lookup(ctx, "p", []float32{0.25, -1.5, 3}, T0.Add(time.Second))
	if err != nil || !ok {
		t.Fatalf("lookup: found %v, %v", ok, err)
	}
	g := h.Entry
	if !bytes.Equal(g.Body, e.Body) || g.Text != e.Text || g.TextTokens != e.TextTokens || g.FinishReason != e.FinishReason || g.PromptTokens != e.PromptTokens ||
		g.CompletionTokens != e.CompletionTokens || !g.Expires.Equal(e.Expires) || len(g.Vector) != 3 || g.Vector[1] != -1.5 {
		t.Errorf("entry came back as %+v, want %+v", g, e)
	}
	if h.Score > 1e-6 {
		t.Errorf("score %g for the same vector, want 0", h.Score)
	}
}
