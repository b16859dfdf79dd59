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
	hists map[string]*hdrhistogram.Histogram // by .hlog tag, all intervals merged
}

// Merge combines the runs of several shards into one: counts are summed,
// and each persona's latency percentiles (and the total's) are computed
// from the shards' HdrHistograms merged value by value (never by averaging
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
	var hists map[string]*hdrhistogram.Histogram
	res.Load, hists = mergeLoads(shards)
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
		if s.sum.Status == statusRunning {
			return nil, fmt.Errorf("merge: %s did not finish (summary.json is from the middle of its load)", dir)
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

// readHistogramLog reads a shard's .hlog, its histograms merged by tag.
func readHistogramLog(path string) (map[string]*hdrhistogram.Histogram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	defer f.Close()
	h, err := loadgen.ReadHistogramLog(f)
	if err != nil {
		return nil, fmt.Errorf("merge: %s: %w", path, err)
	}
	return h, nil
}

// mergeLoads merges the shards' load results and their histograms.
func mergeLoads(shards []*shard) (*loadgen.Result, map[string]*hdrhistogram.Histogram) {
	all := map[string]*hdrhistogram.Histogram{}
	var results []*loadgen.Result
	for _, s := range shards {
		for tag, h := range s.hists {
			loadgen.AddHistogram(all, tag, h)
		}
		results = append(results, s.sum.Load)
	}
	return loadgen.MergeResults(results, all), all
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
		Load: res.Load, Total: res.Load.Totals(), Gateway: res.Summary, Records: res.Records, Pricing: first.Pricing,
		Status: statusComplete}
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
		w.OutputComment(fmt.Sprintf("[aiload %s: latency per persona, nanoseconds, merged from %d shards; persona = corrected, persona/latency, /ttft, /end_to_end, /schedule_lag, /utilization (percent × 10⁶), /itl]", first.Scenario, len(shards))),
		w.OutputStartTime(start), w.OutputLegend())
	w.SetBaseTime(start)
	end := res.Load.Started.Add(res.Load.Elapsed).UnixMilli()
	for _, p := range res.Load.Personas {
		tags := []string{loadgen.HistogramTag(p.Name)}
		for _, suffix := range loadgen.RunHistogramTags() {
			tags = append(tags, tags[0]+"/"+suffix)
		}
		for _, tag := range tags {
			if h, ok := hists[tag]; ok {
				h.SetStartTimeMs(start)
				h.SetEndTimeMs(end)
				err = errors.Join(err, w.OutputIntervalHistogram(h))
			}
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
