package loadgen

import (
	"fmt"
	"io"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Suffixes of the whole-run histograms a .hlog ends each persona with,
// tagged "<persona>/<suffix>"; a bare persona tag is an interval of
// corrected latency.
const (
	TagLatency     = "latency"      // Stats.Latency
	TagTTFT        = "ttft"         // Stats.TTFT
	TagEndToEnd    = "end_to_end"   // Stats.EndToEnd
	TagScheduleLag = "schedule_lag" // Stats.ScheduleLag
	TagITL         = "itl"          // Stats.ITL
	// TagUtilization is Stats.Utilization: percent × 10⁶ (42.5 % is
	// recorded as 42,500,000), so that it shares the latency histograms'
	// range and reads in "milliseconds" as percent.
	TagUtilization = "utilization"
)

// RunHistogramTags lists the whole-run histogram suffixes in .hlog order.
func RunHistogramTags() []string {
	return []string{TagLatency, TagTTFT, TagEndToEnd, TagScheduleLag, TagUtilization, TagITL}
}

// ReadHistogramLog reads an aiload .hlog and merges its histograms by tag:
// every interval of a persona's corrected latency into one, and its
// whole-run histograms as they are.
func ReadHistogramLog(r io.Reader) (map[string]*hdrhistogram.Histogram, error) {
	out := map[string]*hdrhistogram.Histogram{}
	lr := hdrhistogram.NewHistogramLogReader(r)
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("read histogram log: %w", err)
		}
		if h == nil {
			return out, nil
		}
		AddHistogram(out, h.Tag(), h)
	}
}

// AddHistogram merges h into m[tag], value by value. No value is dropped:
// every aiload histogram records the same range.
func AddHistogram(m map[string]*hdrhistogram.Histogram, tag string, h *hdrhistogram.Histogram) {
	if cur, ok := m[tag]; ok {
		cur.Merge(h)
		return
	}
	c := hdrhistogram.Import(h.Export())
	c.SetTag(tag)
	m[tag] = c
}

// MergeResults combines the results of several shards of one run: counts
// are summed per persona and per subscription (in the order names first
// appear), and the percentiles come from hists, the shards' .hlog
// histograms merged by tag (ReadHistogramLog, AddHistogram), never from
// averaging percentiles. A percentile whose histogram is missing (a shard
// written before aiload logged it) is left empty; subscriptions carry
// counts only.
func MergeResults(results []*Result, hists map[string]*hdrhistogram.Histogram) *Result {
	first := results[0]
	res := &Result{Scenario: first.Scenario, Started: first.Started, Duration: first.Duration}
	var personas, subs grouped
	for _, r := range results {
		if r.Started.Before(res.Started) {
			res.Started = r.Started
		}
		res.Elapsed = max(res.Elapsed, r.Elapsed)
		res.Interrupted = res.Interrupted || r.Interrupted
		for _, p := range r.Personas {
			personas.add(p)
		}
		for _, s := range r.Subscriptions {
			subs.add(s)
		}
	}
	total := newCollector("total", "", "")
	for i, name := range personas.names {
		m := mergeStats(name, personas.stats[i])
		tag := HistogramTag(name)
		for dst, suffix := range map[*Percentiles]string{
			&m.LatencyCorrected: "", &m.Latency: TagLatency, &m.TTFT: TagTTFT,
			&m.EndToEnd: TagEndToEnd, &m.ScheduleLag: TagScheduleLag, &m.Utilization: TagUtilization, &m.ITL: TagITL,
		} {
			t := tag
			if suffix != "" {
				t += "/" + suffix
			}
			if h, ok := hists[t]; ok {
				*dst = PercentilesOf(h)
				total.histogram(suffix).Merge(h)
			}
		}
		res.Personas = append(res.Personas, m)
		total.s = Sum("total", []Stats{total.s, m})
		total.tps += m.OutputTokensPerSec * float64(m.OK)
	}
	for i, name := range subs.names {
		res.Subscriptions = append(res.Subscriptions, mergeStats(name, subs.stats[i]))
	}
	t := total.snapshotLocked()
	res.total = &t
	return res
}

// histogram returns the collector's histogram for a .hlog tag suffix ("" is
// the corrected latency).
func (c *collector) histogram(suffix string) *hdrhistogram.Histogram {
	switch suffix {
	case TagLatency:
		return c.lat
	case TagTTFT:
		return c.ttft
	case TagEndToEnd:
		return c.e2e
	case TagScheduleLag:
		return c.lag
	case TagUtilization:
		return c.util
	case TagITL:
		return c.itl
	}
	return c.corr
}

// grouped collects stats by name, in the order names first appear.
type grouped struct {
	names []string
	stats [][]Stats
	idx   map[string]int
}

func (g *grouped) add(s Stats) {
	if g.idx == nil {
		g.idx = map[string]int{}
	}
	i, ok := g.idx[s.Name]
	if !ok {
		i = len(g.names)
		g.idx[s.Name] = i
		g.names = append(g.names, s.Name)
		g.stats = append(g.stats, nil)
	}
	g.stats[i] = append(g.stats[i], s)
}

// mergeStats sums one name's stats over the shards: counts, pipelines and
// jobs, and the mean output rate weighted by successes. Percentiles are
// left to the caller.
func mergeStats(name string, all []Stats) Stats {
	m := Sum(name, all)
	m.Kind, m.Team = all[0].Kind, all[0].Team
	var tps float64
	for _, s := range all {
		tps += s.OutputTokensPerSec * float64(s.OK)
		if p := s.Pipelines; p != nil {
			if m.Pipelines == nil {
				m.Pipelines = &PipelineStats{BrokenAt: map[string]int64{}}
			}
			m.Pipelines.Started += p.Started
			m.Pipelines.Completed += p.Completed
			m.Pipelines.Degraded += p.Degraded
			m.Pipelines.Broken += p.Broken
			m.Pipelines.Unfinished += p.Unfinished
			m.Pipelines.ThrottleDelaySeconds += p.ThrottleDelaySeconds
			m.Pipelines.ProactivePauses += p.ProactivePauses
			for k, v := range p.BrokenAt {
				m.Pipelines.BrokenAt[k] += v
			}
		}
		if j := s.Jobs; j != nil {
			if m.Jobs == nil {
				m.Jobs = &JobStats{}
			}
			m.Jobs.Started += j.Started
			m.Jobs.Completed += j.Completed
			m.Jobs.Failed += j.Failed
			m.Jobs.Unfinished += j.Unfinished
		}
	}
	if m.OK > 0 {
		m.OutputTokensPerSec = tps / float64(m.OK)
	}
	return m
}
