package analytics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// What a caller does after a 429 (Caller.OnThrottle), as aiload's load
// generator does it.
const (
	// CallerRetryAfter waits the Retry-After the gateway sent (its
	// retry-after-ms, to the millisecond) and retries, up to MaxRetries times.
	CallerRetryAfter = "retry_after"
	// CallerBackoff ignores Retry-After and retries after exponential backoff
	// with full jitter: retry n waits uniform [0, min(BackoffMax,
	// BackoffInitial·2ⁿ⁻¹)].
	CallerBackoff = "backoff"
	// CallerFail gives up at the first 429.
	CallerFail = "fail"
)

// DefaultCaller is the caller assumed where neither the records, a
// scenario nor --caller say otherwise: retry after the Retry-After, up to
// 3 times (what OpenAI's and Azure's SDKs and aiload's personas do by
// default).
var DefaultCaller = Caller{OnThrottle: CallerRetryAfter, MaxRetries: 3, BackoffInitial: time.Second, BackoffMax: 30 * time.Second}

// Caller is how the caller of a request reacts to a 429: the replay sends
// its retries (Recommend's feedback loop).
type Caller struct {
	OnThrottle string // CallerRetryAfter, CallerBackoff or CallerFail
	MaxRetries int    // retries per request; 0 = none
	// BackoffInitial and BackoffMax shape CallerBackoff (default 1 s and 30 s).
	BackoffInitial, BackoffMax time.Duration
	// Source says where the behaviour came from: "scenario", "records"
	// (inferred from the attempts logged), "option" (--caller) or "default".
	Source string
}

// ParseCaller reads --caller: retry_after[:N], backoff[:N] (N retries,
// default 3) or fail.
func ParseCaller(s string) (Caller, error) {
	kind, n, hasN := strings.Cut(strings.TrimSpace(s), ":")
	c := DefaultCaller
	c.OnThrottle, c.Source = kind, "option"
	switch kind {
	case CallerFail:
		if hasN {
			return Caller{}, fmt.Errorf("caller %q: fail takes no retry count", s)
		}
		c.MaxRetries = 0
		return c, nil
	case CallerRetryAfter, CallerBackoff:
	default:
		return Caller{}, fmt.Errorf("caller %q: want retry_after:N, backoff:N or fail", s)
	}
	if hasN {
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 || v > 100 {
			return Caller{}, fmt.Errorf("caller %q: retries must be a whole number from 0 to 100", s)
		}
		c.MaxRetries = v
	}
	return c, nil
}

// String renders c as --caller takes it.
func (c Caller) String() string {
	if c.OnThrottle == CallerFail || c.MaxRetries == 0 {
		return CallerFail
	}
	return c.OnThrottle + ":" + strconv.Itoa(c.MaxRetries)
}

// next says whether attempt n's 429 (with the gateway's wait retryAfter)
// is retried, and after how long.
func (c Caller) next(n int, retryAfter time.Duration, rng *rand.Rand) (time.Duration, bool) {
	if n > c.MaxRetries {
		return 0, false
	}
	switch c.OnThrottle {
	case CallerRetryAfter:
		return time.Duration(policy.RetryAfterMillis(retryAfter)) * time.Millisecond, true
	case CallerBackoff:
		ceil := c.BackoffMax
		if n <= 30 {
			ceil = min(ceil, c.BackoffInitial<<(n-1))
		}
		return time.Duration(rng.Float64() * float64(ceil)), true
	}
	return 0, false
}

// personaCaller is one persona's behaviour as the records show it.
type personaCaller struct {
	persona                 string
	firstThrottled, retries int64
	maxAttempt              int64
	exhausted               bool    // a last attempt was refused and not retried
	matchRetryAfter         float64 // share of retries sent when the Retry-After said
	meanGap, maxGapMS       float64 // retry waits (ms): mean of second attempts, largest overall
}

// callerTable is the callers a replay uses: callers[0] is the default
// (for records without a persona), index maps a persona's hash (as
// replay_events.sql gives it) to its caller, names its persona.
type callerTable struct {
	callers []Caller
	names   []string
	index   map[uint64]uint16
}

// sqlIndex is the SQL expression replay_events.sql packs as an event's
// caller: the position of the persona's hash among the table's (literal
// numbers, ours), 0 when absent.
func (t *callerTable) sqlIndex() string {
	if len(t.callers) == 1 {
		return "0"
	}
	hs := make([]string, len(t.callers)-1)
	for h, i := range t.index {
		hs[i-1] = strconv.FormatUint(h, 10)
	}
	return "coalesce(list_position([" + strings.Join(hs, ", ") + "]::UBIGINT[], hash(coalesce(persona, ''))), 0)"
}

// inferCallers reads each persona's reaction to 429s from its attempts
// (replay_callers.sql) and returns the callers to replay: for each persona
// opts.Callers (from a scenario) first, then what the records show, else
// the default, opts.Caller (--caller) or DefaultCaller.
func inferCallers(ctx context.Context, db *DB, opts RecommendOptions) (*callerTable, error) {
	def := opts.Caller
	if def.OnThrottle == "" {
		def = DefaultCaller
		def.Source = "default"
	}
	t := &callerTable{callers: []Caller{def}, names: []string{""}, index: map[uint64]uint16{}}
	rows, err := db.db.QueryContext(ctx, query("replay_callers.sql"), opts.Model, nullTime(opts.From), nullTime(opts.To))
	if err != nil {
		return nil, fmt.Errorf("recommend: callers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p personaCaller
		var h uint64
		if err := rows.Scan(&p.persona, &h, &p.firstThrottled, &p.retries, &p.maxAttempt, &p.exhausted,
			&p.matchRetryAfter, &p.meanGap, &p.maxGapMS); err != nil {
			return nil, fmt.Errorf("recommend: callers: %w", err)
		}
		c, ok := opts.Callers[p.persona]
		if !ok {
			if c, ok = p.caller(); !ok {
				c = def
			}
		}
		if len(t.callers) > 1<<16-1 {
			return nil, fmt.Errorf("recommend: callers: more than %d personas", 1<<16-1)
		}
		t.index[h] = uint16(len(t.callers))
		t.callers = append(t.callers, c)
		t.names = append(t.names, p.persona)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recommend: callers: %w", err)
	}
	return t, nil
}

// caller turns the persona's attempts into a Caller; false when they say
// nothing (no 429 was ever answered).
//
//   - retries after 429s: retry_after when at least half of them came
//     the Retry-After after their 429 (±100 ms or 5%), else backoff (initial
//     wait twice the mean wait of second attempts, which is uniform on
//     [0, initial]; the largest wait seen as the ceiling); MaxRetries is the
//     largest attempt seen minus one, at least 3 unless a last attempt was
//     seen refused and not retried (then it is exact);
//   - 429s on first attempts and no retry at all: fail.
func (p personaCaller) caller() (Caller, bool) {
	switch {
	case p.retries > 0:
		c := DefaultCaller
		c.Source = "records"
		c.MaxRetries = int(p.maxAttempt - 1)
		if !p.exhausted {
			c.MaxRetries = max(c.MaxRetries, DefaultCaller.MaxRetries)
		}
		if p.matchRetryAfter < 0.5 {
			c.OnThrottle = CallerBackoff
			c.BackoffInitial = max(time.Millisecond, time.Duration(2*p.meanGap*float64(time.Millisecond)))
			c.BackoffMax = max(c.BackoffInitial, time.Duration(p.maxGapMS*float64(time.Millisecond)))
		}
		return c, true
	case p.firstThrottled > 0:
		return Caller{OnThrottle: CallerFail, Source: "records"}, true
	}
	return Caller{}, false
}
