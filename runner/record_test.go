package runner

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
)

// TestRecordCalibration runs a scenario against an external target (a
// provisioned mock deployment served on loopback, 1500 TPM, so that its
// utilization climbs and some requests get 429) with --record: the
// calibration file holds one point per answered attempt, the 429s with
// their retry-after, the streamed answers' chunks (8 tokens each) and a
// utilization fit; a run on the embedded gateway refuses --record.
func TestRecordCalibration(t *testing.T) {
	t.Parallel()
	mock := mockllm.New(mockllm.Config{Seed: 3, PTUTPM: 1500, MinFraction: 1, FirstTokenDelay: 5 * time.Millisecond, PerTokenDelay: 200 * time.Microsecond})
	srv := httptest.NewServer(mock)
	defer srv.Close()
	dir := t.TempDir()
	sc := filepath.Join(dir, "ext.yaml")
	src := `name: ext
duration: 3s
model: gpt-4o
target: {url: ` + srv.URL + `, key_header: api-key}
personas:
  - {name: p, key: k, rate: 10/s, arrival: constant, stream: true, on_throttle: fail, prompt_tokens: 60, completion_tokens: 40}
`
	if err := os.WriteFile(sc, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "calib.yaml")
	res, err := Run(context.Background(), Options{Scenario: sc, OutDir: dir, Record: out}, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	cal, err := mockllm.LoadCalibration(out)
	if err != nil {
		t.Fatalf("read %s: %v", out, err)
	}
	d := cal.Deployment("gpt-4o")
	p := res.Load.Personas[0]
	if d == nil || d.Requests != p.Responses || d.OK != p.OK || int64(len(d.Points)) != p.Responses || d.Throttling.Count != p.Throttled {
		t.Fatalf("calibration %+v\nwant %d points, %d ok, %d throttled", d, p.Responses, p.OK, p.Throttled)
	}
	if p.Throttled == 0 || d.Throttling.RetryAfter.Count != p.Throttled || d.Throttling.RetryAfter.P50 <= 0 {
		t.Errorf("throttling %+v: want the %d 429s, each with its retry-after", d.Throttling, p.Throttled)
	}
	if d.TokensPerChunk != 8 {
		t.Errorf("tokens_per_chunk = %g, want the mock's 8", d.TokensPerChunk)
	}
	if u := d.Utilization; u == nil || u.Points != int(p.Responses) || u.Observed.Max <= 0 {
		t.Errorf("utilization %+v: want a fit over the %d answers' headers", u, p.Responses)
	}
	if cal.Source.Command != "run" || cal.Source.Target != srv.URL {
		t.Errorf("source = %+v", cal.Source)
	}

	emb := filepath.Join(dir, "emb.yaml")
	if err := os.WriteFile(emb, []byte("name: emb\nduration: 1s\ngateway:\n  subscriptions: [{id: s, key: k}]\npersonas:\n  - {name: p, subscription: s, rate: 1/s, profile: balanced}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Options{Scenario: emb, OutDir: dir, Record: out}, io.Discard, io.Discard); !errors.Is(err, ErrRecordEmbedded) {
		t.Fatalf("--record on the embedded gateway: %v, want ErrRecordEmbedded", err)
	}
}
