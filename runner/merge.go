package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/loadgen"
)

// MergeOptions configure the merge of shard runs (aiload merge).
type MergeOptions struct {
	// Dirs are the run folders of the shards (each with summary.json and
	// latency.hlog, and tokens.jsonl when the embedded gateway ran).
	Dirs []string
	// Out is the folder the merged results are written to.
	Out string
}

// MergeResult is what Merge produced.
type MergeResult struct {
	Out          string
	SummaryJSON  string
	HistogramLog string
	DB           string // aiload.duckdb with every shard's records ("" when none had records)
	Records      int64
	Load         *loadgen.Result
	Summary      []analytics.SubscriptionSummary
}

// shard is one shard's run as read back from its folder.
type shard struct {
	dir   string
	sum   SummaryFile
	hists map[string]*hdrhistogram.Histogram // corrected latency by .hlog tag, all intervals merged
}

// Merge combines the runs of several shards into one: counts are summed,
// and each persona's corrected-latency percentiles are computed from the
// shards' HdrHistograms merged value by value (never by averaging
// percentiles). The records of all shards are loaded into one DuckDB file.
func Merge(ctx context.Context, opts MergeOptions, stdout io.Writer) (*MergeResult, error) {
	if len(opts.Dirs) == 0 {
		return nil, errors.New("merge: no run folders given")
	}
	if opts.Out == "" {
		return nil, errors.New("merge: an output folder is required")
	}
	shards, err := readShards(opts.Dirs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	res := &MergeResult{Out: opts.Out, SummaryJSON: filepath.Join(opts.Out, "summary.json"),
		HistogramLog: filepath.Join(opts.Out, "latency.hlog")}
	hists := mergeHistograms(shards)
	res.Load = mergeLoads(shards, hists)
	if err := res.loadRecords(ctx, shards); err != nil {
		return res, err
	}
	if err := res.write(shards, hists); err != nil {
		return res, err
	}
	printMerge(stdout, res, len(shards))
	return res, nil
}

func readShards(dirs []string) ([]*shard, error) {
	seen := map[string]bool{}
	var out []*shard
	for _, dir := range dirs {
		s := &shard{dir: dir}
		b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err != nil {
			return nil, fmt.Errorf("merge: read %s: %w", dir, err)
		}
		if err := json.Unmarshal(b, &s.sum); err != nil || s.sum.Load == nil {
			return nil, fmt.Errorf("merge: %s/summary.json is not an aiload run summary", dir)
		}
		if len(out) > 0 && s.sum.Scenario != out[0].sum.Scenario {
			return nil, fmt.Errorf("merge: %s ran scenario %q, %s ran %q", dir, s.sum.Scenario, out[0].dir, out[0].sum.Scenario)
		}
		abs, _ := filepath.Abs(dir)
		if seen[abs] {
			return nil, fmt.Errorf("merge: %s given twice", dir)
		}
		seen[abs] = true
		if s.hists, err = readHistogramLog(filepath.Join(dir, "latency.hlog")); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// readHistogramLog merges every interval of an .hlog by tag.
func readHistogramLog(path string) (map[string]*hdrhistogram.Histogram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	defer f.Close()
	out := map[string]*hdrhistogram.Histogram{}
	r := hdrhistogram.NewHistogramLogReader(f)
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("merge: read %s: %w", path, err)
		}
		if h == nil {
			return out, nil
		}
		addHistogram(out, h.Tag(), h)
	}
}

// addHistogram merges h into m[tag]. No value can be dropped: every aiload
// log records the same range.
func addHistogram(m map[string]*hdrhistogram.Histogram, tag string, h *hdrhistogram.Histogram) {
	if cur, ok := m[tag]; ok {
		cur.Merge(h)
		return
	}
	c := hdrhistogram.Import(h.Export())
	c.SetTag(tag)
	m[tag] = c
}

func mergeHistograms(shards []*shard) map[string]*hdrhistogram.Histogram {
	all := map[string]*hdrhistogram.Histogram{}
	for _, s := range shards {
		for tag, h := range s.hists {
			addHistogram(all, tag, h)
		}
	}
	return all
}

// mergeLoads sums the shards' per-persona and per-subscription counts,
// keeping the order in which names first appear.
func mergeLoads(shards []*shard, hists map[string]*hdrhistogram.Histogram) *loadgen.Result {
	first := shards[0].sum.Load
	res := &loadgen.Result{Scenario: first.Scenario, Started: first.Started, Duration: first.Duration}
	var personas, subs [][]loadgen.Stats
	var pNames, sNames []string
	pIdx, sIdx := map[string]int{}, map[string]int{}
	group := func(all *[][]loadgen.Stats, names *[]string, idx map[string]int, s loadgen.Stats) {
		i, ok := idx[s.Name]
		if !ok {
			i = len(*all)
			idx[s.Name] = i
			*all = append(*all, nil)
			*names = append(*names, s.Name)
		}
		(*all)[i] = append((*all)[i], s)
	}
	for _, sh := range shards {
		l := sh.sum.Load
		if l.Started.Before(res.Started) {
			res.Started = l.Started
		}
		res.Elapsed = max(res.Elapsed, l.Elapsed)
		res.Interrupted = res.Interrupted || l.Interrupted
		for _, p := range l.Personas {
			group(&personas, &pNames, pIdx, p)
		}
		for _, s := range l.Subscriptions {
			group(&subs, &sNames, sIdx, s)
		}
	}
	for i, name := range pNames {
		m := mergeStats(name, personas[i])
		if h, ok := hists[loadgen.HistogramTag(name)]; ok {
			m.LatencyCorrected = loadgen.PercentilesOf(h)
		}
		res.Personas = append(res.Personas, m)
	}
	for i, name := range sNames {
		res.Subscriptions = append(res.Subscriptions, mergeStats(name, subs[i]))
	}
	return res
}

// mergeStats sums one name's stats over the shards. Only counts survive:
// percentiles other than the corrected latency (which comes from the merged
// histograms) cannot be combined exactly from summaries and are left empty.
func mergeStats(name string, all []loadgen.Stats) loadgen.Stats {
	m := loadgen.Sum(name, all)
	m.Kind, m.Team = all[0].Kind, all[0].Team
	for _, s := range all {
		if s.Pipelines != nil {
			if m.Pipelines == nil {
				m.Pipelines = &loadgen.PipelineStats{BrokenAt: map[string]int64{}}
			}
			p := s.Pipelines
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
		if s.Jobs != nil {
			if m.Jobs == nil {
				m.Jobs = &loadgen.JobStats{}
			}
			m.Jobs.Started += s.Jobs.Started
			m.Jobs.Completed += s.Jobs.Completed
			m.Jobs.Failed += s.Jobs.Failed
			m.Jobs.Unfinished += s.Jobs.Unfinished
		}
	}
	return m
}

// loadRecords ingests every shard's tokens.jsonl into one database.
func (res *MergeResult) loadRecords(ctx context.Context, shards []*shard) error {
	var logs []string
	for _, s := range shards {
		if p := filepath.Join(s.dir, "tokens.jsonl"); fileExists(p) {
			logs = append(logs, p)
		}
	}
	if len(logs) == 0 {
		return nil
	}
	res.DB = filepath.Join(res.Out, "aiload.duckdb")
	db, err := analytics.Open(ctx, res.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, p := range logs {
		if _, err := db.Ingest(ctx, p, analytics.FormatAiload); err != nil {
			return err
		}
	}
	if res.Records, err = db.Count(ctx); err != nil {
		return err
	}
	res.Summary, err = db.Summary(ctx)
	return err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// write saves summary.json and a latency.hlog holding each persona's
// merged histogram as one interval.
func (res *MergeResult) write(shards []*shard, hists map[string]*hdrhistogram.Histogram) error {
	first := shards[0].sum
	sf := SummaryFile{Schema: 1, Scenario: first.Scenario, RunDir: res.Out, Target: first.Target,
		Load: res.Load, Total: res.Load.Totals(), Gateway: res.Summary, Records: res.Records, Pricing: first.Pricing}
	b, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return fmt.Errorf("merge: encode summary: %w", err)
	}
	if err := os.WriteFile(res.SummaryJSON, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	f, err := os.Create(res.HistogramLog)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	w := hdrhistogram.NewHistogramLogWriter(f)
	start := res.Load.Started.UnixMilli()
	err = errors.Join(w.OutputLogFormatVersion(),
		w.OutputComment(fmt.Sprintf("[aiload %s: corrected latency per persona, nanoseconds, merged from %d shards]", first.Scenario, len(shards))),
		w.OutputStartTime(start), w.OutputLegend())
	w.SetBaseTime(start)
	end := res.Load.Started.Add(res.Load.Elapsed).UnixMilli()
	for _, p := range res.Load.Personas {
		if h, ok := hists[loadgen.HistogramTag(p.Name)]; ok {
			h.SetStartTimeMs(start)
			h.SetEndTimeMs(end)
			err = errors.Join(err, w.OutputIntervalHistogram(h))
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("merge: write %s: %w", res.HistogramLog, err)
	}
	return nil
}

func printMerge(w io.Writer, res *MergeResult, n int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "persona\tkind\trequests\tsent\tok\t429\tretries\tgave up\tp50 corr ms\tp99 corr ms\tp99.9 corr ms\toutcome\t")
	for _, p := range res.Load.Personas {
		c := p.LatencyCorrected
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.0f\t%.0f\t%s\t\n", p.Name, p.Kind, p.Requests, p.Sent,
			p.OK, p.Throttled, p.Retries, p.GaveUp, c.P50, c.P99, c.P999, outcome(p))
	}
	_ = tw.Flush()
	t := res.Load.Totals()
	fmt.Fprintf(w, "\nmerged %d shards: sent %d, ok %d, 429 %d, errors %d over %v\n", n, t.Sent, t.OK, t.Throttled, t.Errors,
		res.Load.Elapsed.Round(time.Second))
	if res.DB != "" {
		fmt.Fprintf(w, "records: %d in %s\n", res.Records, res.DB)
	}
	fmt.Fprintf(w, "summary: %s\nlatency histograms: %s\n", res.SummaryJSON, res.HistogramLog)
}
