// Package semcache is the store behind the gateway's semantic cache
// (API Management's llm-semantic-cache-lookup and llm-semantic-cache-store):
// answers kept with the embedding of the prompt they answered, looked up by
// the vector nearest to a new prompt's within a partition (vary-by), and
// forgotten after their duration. Every operation takes now explicitly, so
// expiry follows the gateway's clock (wall or virtual).
//
// The in-memory store is one gateway's cache; package rediscache is the
// store several gateway instances share.
package semcache

import (
	"context"
	"math"
	"sync"
	"time"
)

// Entry is one cached answer.
type Entry struct {
	// Vector is the embedding of the prompt the answer answered.
	Vector []float32
	// Body is the answer as sent to the caller (an HTTP JSON body; empty for
	// an answer given in process).
	Body []byte
	// Text and TextTokens are the completion's text and its token count
	// (for answers given in process; TextTokens < 0 when unknown).
	Text       string
	TextTokens int64
	// FinishReason is the completion's finish_reason when the answer was
	// kept as text (a stream's; "" means stop).
	FinishReason string
	// PromptTokens and CompletionTokens are the answer's usage.
	PromptTokens, CompletionTokens int64
	// Expires is when the entry stops being served.
	Expires time.Time
}

// Hit is a Lookup's answer: the nearest live entry and its score.
type Hit struct {
	Entry Entry
	// Score is 1 − the cosine similarity of the two prompts' vectors: 0 for
	// the same direction, 1 for orthogonal ones (API Management's
	// score-threshold reads scores this way: lower is more similar).
	Score float64
}

// Store keeps entries by partition. Implementations are safe for
// concurrent use.
type Store interface {
	// Lookup returns the live entry of partition whose vector is nearest
	// to v (the lowest score) and true, or false when the partition holds
	// none live at now.
	Lookup(ctx context.Context, partition string, v []float32, now time.Time) (Hit, bool, error)
	// Put adds e to partition.
	Put(ctx context.Context, partition string, e Entry, now time.Time) error
}

// Score is 1 − cosine similarity of a and b (1 when either is zero or
// their sizes differ).
func Score(a, b []float32) float64 {
	if len(a) != len(b) {
		return 1
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot, na, nb = dot+x*y, na+x*x, nb+y*y
	}
	if na == 0 || nb == 0 {
		return 1
	}
	return 1 - dot/math.Sqrt(na*nb)
}

// Memory is the in-memory Store: a list of entries per partition, searched
// whole (load tests hold thousands of entries, not millions); expired
// entries are dropped as lookups and puts meet them.
type Memory struct {
	mu    sync.Mutex
	parts map[string][]Entry
	// MaxEntries bounds each partition (0: 10000); the oldest entry makes
	// room for a new one.
	MaxEntries int
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{parts: map[string][]Entry{}} }

// Lookup implements Store.
func (m *Memory) Lookup(_ context.Context, partition string, v []float32, now time.Time) (Hit, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := m.prune(partition, now)
	best, found := Hit{Score: math.Inf(1)}, false
	for _, e := range live {
		if s := Score(v, e.Vector); s < best.Score {
			best, found = Hit{Entry: e, Score: s}, true
		}
	}
	return best, found, nil
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, partition string, e Entry, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := m.prune(partition, now)
	limit := m.MaxEntries
	if limit <= 0 {
		limit = 10000
	}
	if len(live) >= limit {
		live = live[len(live)-limit+1:]
	}
	m.parts[partition] = append(live, e)
	return nil
}

// Len returns the live entries of every partition at now.
func (m *Memory) Len(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for p := range m.parts {
		n += len(m.prune(p, now))
	}
	return n
}

// prune drops partition's expired entries and returns the live ones.
func (m *Memory) prune(partition string, now time.Time) []Entry {
	es := m.parts[partition]
	live := es[:0]
	for _, e := range es {
		if now.Before(e.Expires) {
			live = append(live, e)
		}
	}
	if len(live) == 0 {
		delete(m.parts, partition)
		return nil
	}
	m.parts[partition] = live
	return live
}
