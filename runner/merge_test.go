package runner

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/aiload/aiload/loadgen"
)

// TestMergeFourShardsMatchesOneRun runs mixed-day.yaml (10 simulated
// minutes on the virtual clock) whole and as four shards, merges the
// shards, and compares: the merged corrected-latency histogram holds
// exactly the shards' values, the merged database holds every shard's
// records, and per persona the requests agree within 1 % for open-loop
// callers (batch jobs, NAT'd office users), whose arrivals do not depend on
// answers. Chat users (think time after each answer) and agents (each step
// waits for the previous one) are closed loops: each shard's embedded
// gateway enforces the scenario's limits for its share of users alone, so
// sharded callers meet fewer 429s and come back sooner; they must agree
// within 10 %. Shards that share one gateway (target.url) share its limits.
func TestMergeFourShardsMatchesOneRun(t *testing.T) {
	t.Parallel()
	run := func(sh loadgen.Shard) *Result {
		res, err := Run(context.Background(), Options{Scenario: "../scenarios/mixed-day.yaml", OutDir: t.TempDir(),
			Clock: "virtual", Duration: 10 * time.Minute, Shard: sh}, io.Discard, io.Discard)
		if err != nil {
			t.Fatalf("shard %+v: %v", sh, err)
		}
		return res
	}
	whole := run(loadgen.Shard{})
	var dirs []string
	var records int64
	var shardCounts []map[string]int64
	for i := 0; i < 4; i++ {
		res := run(loadgen.Shard{Index: i, Count: 4})
		dirs = append(dirs, res.Dir)
		records += res.Records
		counts := map[string]int64{}
		for _, p := range res.Load.Personas {
			counts[p.Name] = p.LatencyCorrected.Count
			counts[p.Name+"/latency"] = p.Latency.Count
			counts[p.Name+"/ttft"] = p.TTFT.Count
		}
		shardCounts = append(shardCounts, counts)
	}
	var out strings.Builder
	merged, err := Merge(context.Background(), MergeOptions{Dirs: dirs, Out: filepath.Join(t.TempDir(), "merged")}, &out)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	want := map[string]loadgen.Stats{}
	for _, p := range whole.Load.Personas {
		want[p.Name] = p
	}
	hists, err := readHistogramLog(merged.HistogramLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range merged.Load.Personas {
		w := want[p.Name]
		t.Logf("%-20s whole: %d requests; 4 shards merged: %d requests, p99 corrected %.0f ms", p.Name, w.Requests, p.Requests, p.LatencyCorrected.P99)
		tolerance := int64(100) // 1 %
		if p.Kind == loadgen.KindChat || p.Kind == loadgen.KindAgent {
			tolerance = 10 // 10 %: closed loops, see above
		}
		if d := p.Requests - w.Requests; max(d, -d)*tolerance > w.Requests || w.Requests == 0 {
			t.Errorf("persona %s (%s): merged %d requests, whole run %d: more than 1/%d apart", p.Name, p.Kind, p.Requests, w.Requests, tolerance)
		}
		var sum int64
		for _, c := range shardCounts {
			sum += c[p.Name]
		}
		h := hists[loadgen.HistogramTag(p.Name)]
		if p.LatencyCorrected.Count != sum || h == nil || h.TotalCount() != sum {
			t.Errorf("persona %s: merged histogram holds %d values (log: %v), shards recorded %d", p.Name, p.LatencyCorrected.Count, total(h), sum)
		}
		// latency from the actual send and TTFT merge value by value too
		var lat, ttft int64
		for _, c := range shardCounts {
			lat, ttft = lat+c[p.Name+"/latency"], ttft+c[p.Name+"/ttft"]
		}
		if p.Latency.Count != lat || lat == 0 || p.TTFT.Count != ttft || p.Latency.P99 <= 0 {
			t.Errorf("persona %s: merged latency_ms %+v, ttft_ms %+v; shards recorded %d and %d values", p.Name, p.Latency, p.TTFT, lat, ttft)
		}
	}
	// summary.json's total: percentiles over every persona's values, in the
	// whole run and in the merged one.
	for name, file := range map[string]string{"whole run": whole.SummaryJSON, "merged": merged.SummaryJSON} {
		var sf SummaryFile
		b, err := os.ReadFile(file)
		if err != nil || json.Unmarshal(b, &sf) != nil {
			t.Fatalf("%s: read %s: %v", name, file, err)
		}
		var corr, lat int64
		for _, p := range sf.Load.Personas {
			corr, lat = corr+p.LatencyCorrected.Count, lat+p.Latency.Count
		}
		tot := sf.Total
		if tot.LatencyCorrected.Count != corr || tot.Latency.Count != lat || lat == 0 || tot.Latency.P99 <= 0 || tot.EndToEnd.Count == 0 {
			t.Errorf("%s summary.json total: latency_ms %+v, latency_corrected_ms %+v, end_to_end_ms %+v; personas hold %d and %d values",
				name, tot.Latency, tot.LatencyCorrected, tot.EndToEnd, lat, corr)
		}
	}
	if merged.Records != records || records == 0 {
		t.Errorf("merged database holds %d records, shards wrote %d", merged.Records, records)
	}
	if !strings.Contains(out.String(), "merged 4 shards") {
		t.Errorf("merge output:\n%s", out.String())
	}
}

func total(h *hdrhistogram.Histogram) int64 {
	if h == nil {
		return -1
	}
	return h.TotalCount()
}

func TestMergeRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), []byte(`{"schema":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts MergeOptions
		want string
	}{
		{"nothing to merge", MergeOptions{Out: t.TempDir()}, "no run folders"},
		{"not a run folder", MergeOptions{Dirs: []string{t.TempDir()}, Out: t.TempDir()}, "summary.json"},
		{"not a run summary", MergeOptions{Dirs: []string{dir}, Out: t.TempDir()}, "not an aiload run summary"},
	} {
		_, err := Merge(context.Background(), tc.opts, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
