// Package rediscache keeps the semantic cache in Redis, so that several
// gateway instances share one cache, as API Management's gateways share
// the Azure Managed Redis instance their semantic-cache policies name.
//
// It works on plain Redis (no module): a partition (operation, model and
// vary-by values) is three keys, a sorted set of entry ids scored by their
// expiry, a hash of their vectors (little-endian float32) and a hash of
// the rest of each entry. A lookup runs one Lua script that drops the
// partition's expired entries and returns the vectors of its newest live
// ones (at most Options.MaxCandidates); the gateway scores them (cosine)
// and fetches the nearest entry. Expiry is compared with the gateway's
// clock, not Redis's, so a virtual clock expires entries as it does in
// memory; the keys themselves carry a real-time TTL only to forget idle
// partitions.
//
// When the server has the RediSearch module with vector search (Redis
// Stack, Azure Managed Redis; detected with MODULE LIST on first use) the
// store keeps one hash per entry under an index instead, and a lookup is
// one FT.SEARCH KNN query over the partition's live entries: every entry
// is a candidate.
package rediscache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aiload/aiload/gateway/semcache"
)

var (
	//go:embed lookup.lua
	lookupLua string
	//go:embed put.lua
	putLua string
)

// Search modes.
const (
	// SearchAuto uses RediSearch's vector search when the server has it,
	// the plain layout otherwise.
	SearchAuto = "auto"
	// SearchOff always uses the plain layout.
	SearchOff = "off"
)

// Defaults of Options.
const (
	DefaultPrefix        = "aiload:semcache:"
	DefaultMaxCandidates = 1000
	DefaultMaxEntries    = 10000
	DefaultTimeout       = 500 * time.Millisecond
	// MaxCandidatesLimit bounds Options.MaxCandidates (a Lua script
	// unpacks that many ids at once).
	MaxCandidatesLimit = 4000
)

// Options configure a Store. Zero values take the defaults.
type Options struct {
	// Prefix starts every key (default DefaultPrefix).
	Prefix string
	// MaxCandidates bounds the entries of a partition a plain-Redis lookup
	// compares: the newest ones (default 1000, at most 4000). A partition
	// holding more still answers, from its newest entries.
	MaxCandidates int
	// MaxEntries bounds each partition (default 10000); the entry that
	// expires first makes room for a new one.
	MaxEntries int
	// Timeout bounds each operation (default 500 ms); a slow Redis is a
	// failed lookup (the request goes to the model) or a lost store.
	Timeout time.Duration
	// Search is SearchAuto (default) or SearchOff.
	Search string
	// Password, when set, is sent with AUTH in place of the URL's (Open).
	Password string
}

// Store is a semcache.Store in Redis. Safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	opts   Options
	lookup *redis.Script
	put    *redis.Script

	mu       sync.Mutex
	detected bool
	search   bool
	indexes  map[int]bool // vector dimensions with an index
}

var _ semcache.Store = (*Store)(nil)

// New returns a Store using rdb (speaking RESP2, as Open's client does, for
// FT.SEARCH's replies). It does not contact Redis.
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.MaxCandidates <= 0 {
		opts.MaxCandidates = DefaultMaxCandidates
	}
	if opts.MaxCandidates > MaxCandidatesLimit {
		return nil, fmt.Errorf("redis semantic cache: max_candidates must be at most %d, got %d", MaxCandidatesLimit, opts.MaxCandidates)
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	switch opts.Search {
	case "":
		opts.Search = SearchAuto
	case SearchAuto, SearchOff:
	default:
		return nil, fmt.Errorf("redis semantic cache: search must be %s or %s, got %q", SearchAuto, SearchOff, opts.Search)
	}
	return &Store{rdb: rdb, opts: opts, lookup: redis.NewScript(lookupLua), put: redis.NewScript(putLua), indexes: map[int]bool{}}, nil
}

// Open parses a redis:// URL (redis://host:port/db, with optional user,
// password and rediss:// for TLS) and returns a Store on it.
func Open(url string, opts Options) (*Store, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis semantic cache: parse %q: %w", url, err)
	}
	if opts.Password != "" {
		o.Password = opts.Password
	}
	o.MaxRetries = -1 // a failed operation is reported at once, not retried
	o.Protocol = 2    // FT.SEARCH replies are read in their RESP2 shape
	return New(redis.NewClient(o), opts)
}

// CheckURL reports whether url is a redis:// or rediss:// URL Open takes.
func CheckURL(url string) error {
	if _, err := redis.ParseURL(url); err != nil {
		return fmt.Errorf("must be redis://host:port/db or rediss://…: %w", err)
	}
	return nil
}

// URLHasPassword reports whether url carries a password.
func URLHasPassword(url string) bool {
	o, err := redis.ParseURL(url)
	return err == nil && o.Password != ""
}

// Close closes the Redis client.
func (s *Store) Close() error { return s.rdb.Close() }

// VectorSearch reports whether the store uses RediSearch's vector search
// (after its first operation; false before).
func (s *Store) VectorSearch() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.search
}

// keys are a partition's keys. The partition is hashed (its values are the
// caller's, of any length) and in braces, so that Redis Cluster keeps a
// partition's keys on one node.
func (s *Store) keys(partition string) []string {
	sum := sha256.Sum256([]byte(partition))
	base := s.opts.Prefix + "{" + hex.EncodeToString(sum[:16]) + "}:"
	return []string{base + "z", base + "v", base + "e"}
}

func us(t time.Time) int64 { return t.UnixMicro() }

// gcTTL is the real time Redis keeps an idle partition (or entry): twice
// the entry's remaining duration plus a minute.
func gcTTL(e semcache.Entry, now time.Time) time.Duration {
	return 2*max(e.Expires.Sub(now), 0) + time.Minute
}

// stored is an entry as kept in Redis, its vector aside.
type stored struct {
	Body             []byte `json:"body,omitempty"`
	Text             string `json:"text,omitempty"`
	TextTokens       int64  `json:"text_tokens"`
	FinishReason     string `json:"finish_reason,omitempty"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	Expires          int64  `json:"expires_us"`
}

func encodeEntry(e semcache.Entry) []byte {
	b, _ := json.Marshal(stored{Body: e.Body, Text: e.Text, TextTokens: e.TextTokens, FinishReason: e.FinishReason,
		PromptTokens: e.PromptTokens, CompletionTokens: e.CompletionTokens, Expires: us(e.Expires)})
	return b
}

func decodeEntry(b []byte, v []float32) (semcache.Entry, error) {
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return semcache.Entry{}, fmt.Errorf("redis semantic cache: entry: %w", err)
	}
	return semcache.Entry{Vector: v, Body: st.Body, Text: st.Text, TextTokens: st.TextTokens, FinishReason: st.FinishReason, PromptTokens: st.PromptTokens,
		CompletionTokens: st.CompletionTokens, Expires: time.UnixMicro(st.Expires).UTC()}, nil
}

// vectorBytes is v as little-endian float32s (RediSearch's FLOAT32 blob).
func vectorBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesVector(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Put implements semcache.Store.
func (s *Store) Put(ctx context.Context, partition string, e semcache.Entry, now time.Time) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.Timeout)
	defer cancel()
	if s.useSearch(ctx) {
		return s.putSearch(ctx, partition, e, now)
	}
	err := s.put.Run(ctx, s.rdb, s.keys(partition), newID(), us(e.Expires), vectorBytes(e.Vector), encodeEntry(e),
		s.opts.MaxEntries, gcTTL(e, now).Milliseconds()).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis semantic cache: put: %w", err)
	}
	return nil
}

// Lookup implements semcache.Store.
func (s *Store) Lookup(ctx context.Context, partition string, v []float32, now time.Time) (semcache.Hit, bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.Timeout)
	defer cancel()
	if s.useSearch(ctx) {
		return s.lookupSearch(ctx, partition, v, now)
	}
	keys := s.keys(partition)
	res, err := s.lookup.Run(ctx, s.rdb, keys, us(now), s.opts.MaxCandidates).Slice()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return semcache.Hit{}, false, nil
		}
		return semcache.Hit{}, false, fmt.Errorf("redis semantic cache: lookup: %w", err)
	}
	best, bestID := semcache.Hit{Score: math.Inf(1)}, ""
	for i := 0; i+1 < len(res); i += 2 {
		id, _ := res[i].(string)
		raw, _ := res[i+1].(string)
		if id == "" || raw == "" {
			continue
		}
		c := bytesVector([]byte(raw))
		if sc := semcache.Score(v, c); sc < best.Score {
			best, bestID = semcache.Hit{Entry: semcache.Entry{Vector: c}, Score: sc}, id
		}
	}
	if bestID == "" {
		return semcache.Hit{}, false, nil
	}
	raw, err := s.rdb.HGet(ctx, keys[2], bestID).Bytes()
	switch {
	case errors.Is(err, redis.Nil): // removed since: a miss
		return semcache.Hit{}, false, nil
	case err != nil:
		return semcache.Hit{}, false, fmt.Errorf("redis semantic cache: lookup: %w", err)
	}
	e, err := decodeEntry(raw, best.Entry.Vector)
	if err != nil {
		return semcache.Hit{}, false, err
	}
	if !now.Before(e.Expires) {
		return semcache.Hit{}, false, nil
	}
	best.Entry = e
	return best, true, nil
}

// useSearch reports whether the server has vector search, asking it once:
// MODULE LIST names the search module at 2.4 or later, or, where MODULE
// LIST is refused (managed servers), FT._LIST answers. An unreachable
// server is asked again next time.
func (s *Store) useSearch(ctx context.Context) bool {
	if s.opts.Search == SearchOff {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.detected {
		return s.search
	}
	mods, err := s.rdb.Do(ctx, "MODULE", "LIST").Slice()
	switch {
	case err == nil:
		s.search = hasVectorSearch(mods)
	case isNetError(err):
		return false
	default: // MODULE LIST refused (managed servers): ask the module itself
		err = s.rdb.Do(ctx, "FT._LIST").Err()
		if err != nil && isNetError(err) {
			return false
		}
		s.search = err == nil
	}
	s.detected = true
	return s.search
}

// isNetError tells a connection failure or timeout from an error reply.
func isNetError(err error) bool {
	var re redis.Error
	return !errors.As(err, &re)
}
