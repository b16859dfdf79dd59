// Package synth writes synthetic aiload token-metric logs (JSONL, schema 1)
// for benchmarks: many consumers of differing size, a daily cycle, a few
// models, PTU and PAYG backends, and a small share of throttled requests.
// The output is deterministic for a given seed.
package synth

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Options shapes a synthetic log. Zero values take the defaults noted.
type Options struct {
	Records   int       // number of records (required, > 0)
	Teams     int       // teams, each with two subscriptions; default 50
	Start     time.Time // first timestamp; default 2026-11-01T00:00:00Z
	Span      time.Duration
	Seed      uint64
	RunID     string // default "synth"
	ThrottleP float64
}

var models = []string{"gpt-4o", "gpt-4o-mini", "gpt-4.1"}
var products = []string{"Developer", "Standard", "Unlimited"}
var limits = []int64{10000, 50000, 0}

// Write writes opts.Records records to w, ordered by time. It returns the
// number of records written.
func Write(w io.Writer, opts Options) (int, error) {
	if opts.Records <= 0 {
		return 0, fmt.Errorf("synth: records must be > 0")
	}
	if opts.Teams <= 0 {
		opts.Teams = 50
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	if opts.Span <= 0 {
		opts.Span = 7 * 24 * time.Hour
	}
	if opts.RunID == "" {
		opts.RunID = "synth"
	}
	if opts.ThrottleP == 0 {
		opts.ThrottleP = 0.02
	}
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	nsub := opts.Teams * 2
	// Consumer weights are lognormal, so a few consumers dominate.
	cum := make([]float64, nsub)
	total := 0.0
	for i := range cum {
		total += math.Exp(rng.NormFloat64())
		cum[i] = total
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	step := float64(opts.Span) / float64(opts.Records)
	buf := make([]byte, 0, 1024)
	for i := 0; i < opts.Records; i++ {
		ts := opts.Start.Add(time.Duration(float64(i) * step))
		sub := pick(cum, rng.Float64()*total)
		buf = appendRecord(buf[:0], rng, opts, i, ts, sub)
		if _, err := bw.Write(buf); err != nil {
			return i, fmt.Errorf("synth: write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return opts.Records, fmt.Errorf("synth: flush: %w", err)
	}
	return opts.Records, nil
}

func pick(cum []float64, x float64) int {
	lo, hi := 0, len(cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if cum[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func appendRecord(b []byte, rng *rand.Rand, o Options, i int, ts time.Time, sub int) []byte {
	team := sub / 2
	prod := sub % len(products)
	model := models[sub%len(models)]
	prompt := int64(200 + rng.ExpFloat64()*800)
	completion := int64(20 + rng.ExpFloat64()*200)
	cached := int64(0)
	if rng.IntN(4) == 0 {
		cached = prompt / 2
	}
	tier, backend := "ptu", "ptu-1"
	if rng.IntN(5) == 0 {
		tier, backend = "payg", "payg-1"
	}
	status, outcome, est := 200, "ok", false
	if rng.Float64() < o.ThrottleP {
		status, outcome, est, tier, backend, cached = 429, "throttled", true, "", "", 0
	}
	b = append(b, `{"schema":1,"ts":"`...)
	b = ts.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","request_id":"`...)
	b = append(b, o.RunID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","run_id":"`...)
	b = append(b, o.RunID...)
	b = append(b, `","gateway_id":"gw-1","subscription_id":"sub-`...)
	b = strconv.AppendInt(b, int64(sub), 10)
	b = append(b, `","product":"`...)
	b = append(b, products[prod]...)
	b = append(b, `","team":"team-`...)
	b = strconv.AppendInt(b, int64(team), 10)
	b = append(b, `","user_id":"","client_ip":"10.0.0.1","counter_key":"sub-`...)
	b = strconv.AppendInt(b, int64(sub), 10)
	b = append(b, `","api":"chat","model":"`...)
	b = append(b, model...)
	b = append(b, `","backend":"`...)
	b = append(b, backend...)
	b = append(b, `","backend_tier":"`...)
	b = append(b, tier...)
	b = append(b, `","prompt_tokens":`...)
	b = strconv.AppendInt(b, prompt, 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, completion, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, prompt+completion, 10)
	b = append(b, `,"cached_tokens":`...)
	b = strconv.AppendInt(b, cached, 10)
	b = append(b, `,"tokens_estimated":`...)
	b = strconv.AppendBool(b, est)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"outcome":"`...)
	b = append(b, outcome...)
	b = append(b, `","limit_tpm":`...)
	b = strconv.AppendInt(b, limits[prod], 10)
	b = append(b, `,"remaining_tokens":0,"remaining_quota_tokens":-1,"retry_after_ms":0,"latency_ms":`...)
	b = strconv.AppendFloat(b, 50+rng.Float64()*900, 'f', 1, 64)
	b = append(b, `,"backend_latency_ms":0,"ttft_ms":0,"stream":false,"scenario":"synth","persona":"p","attempt":1}`...)
	return append(b, '\n')
}
