package rediscache

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aiload/aiload/gateway/semcache"
)

// The RediSearch layout: one hash per entry, key
// <prefix>e:<dim>:<id>, with fields p (the partition's hash, a TAG), exp
// (the expiry in µs on the gateway's clock, NUMERIC), vec (FLOAT32 VECTOR,
// FLAT index, COSINE distance) and entry (the rest, JSON), under one index
// per vector dimension, <prefix>idx:<dim>. The key's TTL is real time and
// only forgets entries; expiry is the exp filter of each query.

// minSearchVersion is the first RediSearch version with vector fields (2.4).
const minSearchVersion = 20400

// hasVectorSearch reports whether a MODULE LIST reply names the search
// module at a version with vector fields.
func hasVectorSearch(mods []any) bool {
	for _, m := range mods {
		name, ver := "", int64(0)
		visit := func(k, v any) {
			switch fmt.Sprint(k) {
			case "name":
				name = fmt.Sprint(v)
			case "ver":
				ver, _ = strconv.ParseInt(fmt.Sprint(v), 10, 64)
			}
		}
		switch x := m.(type) {
		case []any: // RESP2: name, search, ver, 20809, …
			for i := 0; i+1 < len(x); i += 2 {
				visit(x[i], x[i+1])
			}
		case map[any]any: // RESP3
			for k, v := range x {
				visit(k, v)
			}
		}
		if (name == "search" || name == "ft") && ver >= minSearchVersion {
			return true
		}
	}
	return false
}

func (s *Store) index(dim int) string { return s.opts.Prefix + "idx:" + strconv.Itoa(dim) }

func (s *Store) entryPrefix(dim int) string { return s.opts.Prefix + "e:" + strconv.Itoa(dim) + ":" }

func (s *Store) partitionTag(partition string) string {
	k := s.keys(partition)[0] // <prefix>{hash}:z
	return k[strings.IndexByte(k, '{')+1 : strings.IndexByte(k, '}')]
}

// ensureIndex creates the index of vectors of dim, once.
func (s *Store) ensureIndex(ctx context.Context, dim int) error {
	s.mu.Lock()
	done := s.indexes[dim]
	s.mu.Unlock()
	if done {
		return nil
	}
	err := s.rdb.Do(ctx, "FT.CREATE", s.index(dim), "ON", "HASH", "PREFIX", 1, s.entryPrefix(dim),
		"SCHEMA", "p", "TAG", "exp", "NUMERIC",
		"vec", "VECTOR", "FLAT", 6, "TYPE", "FLOAT32", "DIM", dim, "DISTANCE_METRIC", "COSINE").Err()
	if err != nil && !strings.Contains(strings.ToLower(err.Error()), "index already exists") {
		return fmt.Errorf("redis semantic cache: create index: %w", err)
	}
	s.mu.Lock()
	s.indexes[dim] = true
	s.mu.Unlock()
	return nil
}

func (s *Store) putSearch(ctx context.Context, partition string, e semcache.Entry, now time.Time) error {
	dim := len(e.Vector)
	if err := s.ensureIndex(ctx, dim); err != nil {
		return err
	}
	key := s.entryPrefix(dim) + newID()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "p", s.partitionTag(partition), "exp", us(e.Expires), "vec", vectorBytes(e.Vector), "entry", encodeEntry(e))
		p.PExpire(ctx, key, gcTTL(e, now))
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis semantic cache: put: %w", err)
	}
	return nil
}

func (s *Store) lookupSearch(ctx context.Context, partition string, v []float32, now time.Time) (semcache.Hit, bool, error) {
	dim := len(v)
	if err := s.ensureIndex(ctx, dim); err != nil {
		return semcache.Hit{}, false, err
	}
	q := fmt.Sprintf("(@p:{%s} @exp:[(%d +inf])=>[KNN 1 @vec $v AS score]", s.partitionTag(partition), us(now))
	res, err := s.rdb.Do(ctx, "FT.SEARCH", s.index(dim), q, "PARAMS", 2, "v", vectorBytes(v),
		"RETURN", 3, "score", "entry", "vec", "SORTBY", "score", "LIMIT", 0, 1, "DIALECT", 2).Slice()
	if err != nil {
		return semcache.Hit{}, false, fmt.Errorf("redis semantic cache: FT.SEARCH: %w", err)
	}
	// RESP2: total, key, [field, value, …]
	if len(res) < 3 {
		return semcache.Hit{}, false, nil
	}
	fields, _ := res[2].([]any)
	var score float64 = math.NaN()
	var raw, vec string
	for i := 0; i+1 < len(fields); i += 2 {
		val := fmt.Sprint(fields[i+1])
		switch fmt.Sprint(fields[i]) {
		case "score":
			score, _ = strconv.ParseFloat(val, 64)
		case "entry":
			raw = val
		case "vec":
			vec = val
		}
	}
	if raw == "" || math.IsNaN(score) {
		return semcache.Hit{}, false, nil
	}
	e, err := decodeEntry([]byte(raw), bytesVector([]byte(vec)))
	if err != nil {
		return semcache.Hit{}, false, err
	}
	return semcache.Hit{Entry: e, Score: score}, true, nil
}
