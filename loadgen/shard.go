package loadgen

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard selects this machine's share of a scenario's users when the load
// comes from several machines: user (or agent, or batch job) u of every
// persona runs on shard u mod Count. Arrivals and lengths are drawn per
// user from the seed, so the shards of a run together send what one
// machine would. The zero Shard runs everything.
type Shard struct {
	// Index is this shard, 0-based; Count is the number of shards.
	Index, Count int
}

// ParseShard reads "i/n" (1-based i, as in --shard 2/4).
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("invalid shard %q (want i/n with 1 <= i <= n, e.g. 2/4)", s)
	}
	return Shard{Index: i - 1, Count: n}, nil
}

// String writes s as "i/n".
func (s Shard) String() string {
	if s.Count <= 1 {
		return "1/1"
	}
	return fmt.Sprintf("%d/%d", s.Index+1, s.Count)
}

// has reports whether user u runs on this shard.
func (s Shard) has(u int) bool { return s.Count <= 1 || u%s.Count == s.Index }
