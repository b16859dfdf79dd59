package loadgen

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/semcache"
	"github.com/aiload/aiload/gateway/tokens"
)

// TestRepeatVocabulary: every word is one token (with its leading space)
// in both encodings, so a distinct prompt of n words is about n tokens.
func TestRepeatVocabulary(t *testing.T) {
	t.Parallel()
	c := tokens.NewCounter()
	seen := map[string]bool{}
	for _, w := range repeatVocabulary {
		if seen[w] {
			t.Errorf("%q twice", w)
		}
		seen[w] = true
		for _, model := range []string{"gpt-4o", "gpt-4"} {
			if n, err := c.Text(model, " "+w); err != nil || n != 1 {
				t.Errorf("%q: %d tokens under %s, want 1", w, n, model)
			}
		}
	}
	if len(repeatVocabulary) < 200 {
		t.Errorf("%d words, want at least 200", len(repeatVocabulary))
	}
}

// TestDistinctText: a distinct text of n tokens is about n tokens, and two
// of them score far apart under the mock's embeddings however long they
// are, while a paraphrase of 5 % of the words scores close.
func TestDistinctText(t *testing.T) {
	t.Parallel()
	c := tokens.NewCounter()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int64{21, 400, 2000} {
		a, b := distinctText(rng, n), distinctText(rng, n)
		got, _ := c.Text("gpt-4o", a)
		if float64(got) < 0.8*float64(n) || float64(got) > 1.5*float64(n) {
			t.Errorf("%d tokens asked: %d counted", n, got)
		}
		if s := similarity(a, b); s > 0.2 {
			t.Errorf("two distinct texts of %d tokens: similarity %.3f, want near 0", n, s)
		}
		if s := similarity(a, paraphrase(rng, a, 0.05)); s < 0.85 {
			t.Errorf("a paraphrase of %d tokens: similarity %.3f, want above 0.85", n, s)
		}
	}
}

func similarity(a, b string) float64 {
	return 1 - semcache.Score(mockllm.Embed(a, 1536), mockllm.Embed(b, 1536))
}

// TestRepeatShare: about Share of the user messages are earlier ones,
// paraphrased ones differ in Change of their words, and fresh ones are
// distinct.
func TestRepeatShare(t *testing.T) {
	t.Parallel()
	p := &Persona{Name: "faq", Repeat: &Repeat{Share: 0.3, Paraphrase: true}}
	p.Repeat.defaults()
	c := &call{p: p, model: "gpt-4o", rng: rand.New(rand.NewPCG(7, 1))}
	tx := &texts{}
	seen := map[string]bool{}
	// thirds indexes every prompt by each third of its words: a paraphrase
	// changing 2 of 40 words keeps one third whole.
	thirds := map[string][]string{}
	repeats := 0
	const n = 2000
	for range n {
		m := tx.varied(c, 80)
		w := strings.Fields(m.Content)
		if seen[m.Content] || len(w) != 40 {
			t.Fatalf("a repeat equals an earlier prompt, or not 40 words: %q", m.Content)
		}
		keys := []string{"a" + strings.Join(w[:13], " "), "b" + strings.Join(w[13:26], " "), "c" + strings.Join(w[26:], " ")}
		var candidates []string
		for _, k := range keys {
			candidates = append(candidates, thirds[k]...)
		}
		if near(candidates, w) {
			repeats++
		}
		seen[m.Content] = true
		for _, k := range keys {
			thirds[k] = append(thirds[k], m.Content)
		}
	}
	if share := float64(repeats) / n; share < 0.26 || share > 0.34 {
		t.Errorf("repeated share %.3f, want about 0.3", share)
	}
	if got := len(tx.logs[p].prompts); got != min(n-repeats, 1000) {
		t.Errorf("%d prompts remembered, want the last %d fresh ones", got, min(n-repeats, 1000))
	}
}

// near reports whether w differs from one of the candidates in 1 or 2 of
// its 40 words (5 %, a paraphrase).
func near(candidates []string, w []string) bool {
	for _, e := range candidates {
		ew := strings.Fields(e)
		diff := 0
		for i := range w {
			if w[i] != ew[i] {
				diff++
			}
		}
		if diff >= 1 && diff <= 2 {
			return true
		}
	}
	return false
}
