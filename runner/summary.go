package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/loadgen"
)

// SummaryFile is the shape of summary.json: what the load generator saw and,
// for runs against the embedded gateway, the gateway-side summary from
// DuckDB. Pricing is the scenario's pricing section, passed through.
type SummaryFile struct {
	Schema   int    `json:"schema"`
	Scenario string `json:"scenario"`
	// ScenarioFile is the scenario file's absolute path, and Seed and
	// Duration what the run used (overrides applied), so that
	// aiload recommend can rerun it.
	ScenarioFile string           `json:"scenario_file,omitempty"`
	Seed         uint64           `json:"seed,omitempty"`
	Duration     loadgen.Duration `json:"duration,omitempty"`
	RunDir       string           `json:"run_dir"`
	Target       string           `json:"target"`
	Load         *loadgen.Result  `json:"load"`
	Total        loadgen.Stats    `json:"total"`
	// Gateway is the per-subscription summary from the records (embedded
	// gateway only).
	Gateway []analytics.SubscriptionSummary `json:"gateway,omitempty"`
	Records int64                           `json:"records"`
	Pricing map[string]any                  `json:"pricing,omitempty"`
	// Cache is the semantic cache's effect per team, persona and model
	// (embedded gateway with a semantic cache only).
	Cache []analytics.CacheStat `json:"cache,omitempty"`
	// Status is how far the run got when the file was written: running
	// (the load is under way; counts are the latest snapshot's), loaded
	// (the load is over; the database is being written), complete, or
	// failed (Error says why). summary.json is rewritten as the run goes.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// SummaryFile statuses.
const (
	statusRunning  = "running"
	statusLoaded   = "loaded"
	statusComplete = "complete"
	statusFailed   = "failed"
)

// summaryStatus is failed when err is set, else status.
func summaryStatus(err error, status string) string {
	if err != nil {
		return statusFailed
	}
	return status
}

// writeSummaryJSON replaces summary.json atomically (a temporary file in
// the same folder, synced, then renamed over it): a reader, a crash or a
// second signal sees the previous version or this one, never a torn file.
func writeSummaryJSON(res *Result, status string, runErr error) error {
	target := "embedded"
	if !res.Scenario.Target.Embedded() {
		target = res.Scenario.Target.URL
	}
	sf := SummaryFile{Schema: 1, Scenario: res.Scenario.Name, RunDir: res.Dir, Target: target,
		Load: res.Load, Total: res.Load.Totals(), Gateway: res.Summary, Records: res.Records,
		Pricing: res.Scenario.Pricing, Cache: res.Cache, ScenarioFile: res.ScenarioFile, Seed: res.Scenario.Seed, Duration: res.Scenario.Duration,
		Status: status}
	if runErr != nil {
		sf.Error = runErr.Error()
	}
	b, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	if err := writeAtomic(res.SummaryJSON, append(b, '\n')); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// writeAtomic replaces path with data through a synced temporary file.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// snapshotResult is a load generator result as of snapshot s.
func snapshotResult(s loadgen.Snapshot) *loadgen.Result {
	return &loadgen.Result{Scenario: s.Scenario, Started: s.Started, Elapsed: s.Elapsed, Duration: s.Duration,
		Personas: s.Personas, Subscriptions: s.Subscriptions}
}

// printSummary writes the per-subscription table (embedded gateway), the
// per-persona table of what callers saw, and where the files are.
func printSummary(w io.Writer, res *Result) {
	if res.Scenario.Target.Embedded() {
		printSubscriptions(w, res.Summary)
		fmt.Fprintln(w)
		if len(res.Cache) > 0 {
			printCache(w, res.Cache)
			fmt.Fprintln(w)
		}
	}
	printPersonas(w, res.Load)
	t := res.Load.Totals()
	fmt.Fprintf(w, "\nload generator: sent %d, answered %d, ok %d, 429 %d (retried %d, gave up %d), errors %d, late starts %d\n",
		t.Sent, t.Responses, t.OK, t.Throttled, t.Retries, t.GaveUp, t.Errors, t.LateStarts)
	if u := t.Utilization; u.Count > 0 {
		fmt.Fprintf(w, "deployment utilization (azure-openai-deployment-utilization): avg %.1f%%, p95 %.1f%% over %d answers\n", u.Mean, u.P95, u.Count)
	}
	if res.Scenario.Target.Embedded() {
		fmt.Fprintf(w, "records: %d in %s\ndatabase: %s\n", res.Records, res.Log, res.DB)
	}
	fmt.Fprintf(w, "summary: %s\nlatency histograms: %s\n", res.SummaryJSON, res.HistogramLog)
	if res.ReportPDF != "" {
		fmt.Fprintf(w, "chargeback report: %s, %s, %s, %s\n", res.ReportPDF, res.ChargebackCSV, res.FocusCSV, res.ChartsDir)
	}
}

// printSubscriptions writes the gateway's per-subscription table: requests
// are first attempts, throttled those refused (429 or 403) with their share
// of the requests, retries apart with how many were refused.
func printSubscriptions(w io.Writer, subs []analytics.SubscriptionSummary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "subscription\tteam\tproduct\trequests\tok\tthrottled\tretries\tprompt tok\tcompletion tok\tpeak TPM\tlimit TPM\tp50 ms\tp99 ms\t")
	for _, s := range subs {
		limit := "none"
		if s.LimitTPM > 0 {
			limit = fmt.Sprint(s.LimitTPM)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%d\t%d\t%d\t%s\t%.0f\t%.0f\t\n",
			s.SubscriptionID, s.Team, s.Product, s.FirstAttempts, s.OK, throttledCell(s), retriesCell(s),
			s.PromptTokens, s.CompletionTokens, s.PeakTPM, limit, s.P50MS, s.P99MS)
	}
	_ = tw.Flush()
	var perKey []string
	for _, s := range subs {
		if s.Keys > 1 {
			perKey = append(perKey, fmt.Sprintf("%s: busiest %s of %d keys", s.SubscriptionID, s.PeakKey, s.Keys))
		}
	}
	if len(perKey) > 0 {
		fmt.Fprintf(w, "peak and limit TPM are per counter key (%s)\n", strings.Join(perKey, "; "))
	}
}

// printCache writes the semantic cache's table: per team's persona and
// model, lookups and hits, the hits that counted against a token limit,
// the tokens served from the cache, what they would have cost, and what the
// embeddings calls cost (billed to the team).
func printCache(w io.Writer, stats []analytics.CacheStat) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "semantic cache	team	model	lookups	hits	hit rate	hits counted by limit	tokens from cache	saved	embedding tok	embeddings cost	")
	for _, s := range stats {
		fmt.Fprintf(tw, "%s	%s	%s	%d	%d	%.1f%%	%d	%d	%.4f	%d	%.4f	\n",
			s.Persona, s.Team, s.Model, s.Lookups, s.Hits, 100*s.HitRate(), s.CountedHits,
			s.CachePromptTokens+s.CacheCompletionTokens, s.Saved, s.EmbeddingTokens, s.EmbeddingCost)
	}
	_ = tw.Flush()
}

// throttledCell is the share of requests whose first attempt was refused
// (429 or 403): "12 (3.4%)".
func throttledCell(s analytics.SubscriptionSummary) string {
	return fmt.Sprintf("%d (%.1f%%)", s.ThrottledFirst, 100*s.ThrottledShare())
}

// retriesCell counts retries and how many of them were refused: "7 (2 refused)".
func retriesCell(s analytics.SubscriptionSummary) string {
	if s.Retries == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%d refused)", s.Retries, s.ThrottledRetries)
}

// printPersonas writes what each persona's callers saw.
func printPersonas(w io.Writer, load *loadgen.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "persona\tkind\trequests\tok\t429\tretries\tgave up\tgoodput\tttft p50\tp50 ms\tp99 ms\tp99 corr ms\ttok/s\twait s\toutcome\t")
	for _, p := range load.Personas {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\t%s\t\n",
			p.Name, p.Kind, p.Requests, p.OK, p.Throttled, p.Retries, p.GaveUp, p.Goodput,
			p.TTFT.P50, p.Latency.P50, p.Latency.P99, p.LatencyCorrected.P99, p.OutputTokensPerSec, p.RetryWaitSeconds, outcome(p))
	}
	_ = tw.Flush()
	for _, p := range load.Personas {
		if i := p.ITL; i.Count > 0 {
			fmt.Fprintf(w, "inter-token latency %s: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms over %d gaps between streamed chunks\n", p.Name, i.P50, i.P95, i.P99, i.Count)
		}
	}
}

// outcome describes pipelines or jobs in a few words.
func outcome(s loadgen.Stats) string {
	switch {
	case s.Pipelines != nil:
		p := s.Pipelines
		return fmt.Sprintf("pipelines %d done, %d broken, %d cut, +%.0fs throttled", p.Completed, p.Broken, p.Unfinished, p.ThrottleDelaySeconds)
	case s.Jobs != nil:
		j := s.Jobs
		return fmt.Sprintf("jobs %d done, %d failed, %d cut", j.Completed, j.Failed, j.Unfinished)
	}
	return "-"
}
