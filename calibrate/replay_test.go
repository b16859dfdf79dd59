package calibrate_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiload/aiload/calibrate"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/runner"
)

// standIn is a deployment with known behaviour, served on loopback: time
// to first token 30 ms + 0.01 ms per prompt token + an exponential delay
// of mean 10 ms; two tokens per content chunk, each chunk after a
// lognormal gap of median 3 ms and p95 6 ms; completions uniform within
// 30–100 % of max_tokens.
type standIn struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func (s *standIn) draw(f func(r *rand.Rand) float64) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s.rng)
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
		MaxTokens int64 `json:"max_tokens"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MaxTokens < 1 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	prompt := int64(0)
	for _, m := range req.Messages {
		prompt += int64(len(strings.Fields(m.Content)))
	}
	completion := int64(math.Round(s.draw(func(r *rand.Rand) float64 { return 0.3 + 0.7*r.Float64() }) * float64(req.MaxTokens)))
	completion = max(completion, 2)
	ttft := 30 + 0.01*float64(prompt) + s.draw(func(r *rand.Rand) float64 { return 10 * r.ExpFloat64() })
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	send := func(v string) { fmt.Fprintf(w, "data: %s\n\n", v); fl.Flush() }
	time.Sleep(time.Duration(ttft * float64(time.Millisecond)))
	send(`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`)
	sigma := math.Log(2) / 1.6448536269514722
	for sent := int64(0); sent < completion; sent += 2 {
		if sent > 0 {
			gap := 3 * math.Exp(sigma*s.draw(func(r *rand.Rand) float64 { return r.NormFloat64() }))
			time.Sleep(time.Duration(gap * float64(time.Millisecond)))
		}
		send(`{"choices":[{"index":0,"delta":{"content":"two words"}}]}`)
	}
	send(`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`)
	send(fmt.Sprintf(`{"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`, prompt, completion, prompt+completion))
	send("[DONE]")
}

// TestCalibrateThenReplay is the round trip: calibrate measures the
// stand-in deployment over loopback (a short, bounded load), and a
// scenario whose backend mock reads the calibration, run on the virtual
// clock, reproduces the measured time to first token, inter-token latency
// and completion lengths (p50 and p95) within 10 %.
func TestCalibrateThenReplay(t *testing.T) {
	srv := httptest.NewServer(&standIn{rng: rand.New(rand.NewPCG(7, 7))})
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "calib.yaml")
	res, err := calibrate.Run(context.Background(), calibrate.Options{Target: srv.URL, Deployment: "gpt-4o",
		Profile: "context", Duration: 4 * time.Second, Rate: 10, MaxRequests: 40, Out: out}, io.Discard)
	if err != nil {
		t.Fatalf("calibrate: %v", err)
	}
	if res.Sent != 40 {
		t.Fatalf("calibrate answered %d requests, want the cap of 40", res.Sent)
	}
	cal, err := mockllm.LoadCalibration(out)
	if err != nil {
		t.Fatalf("read back %s: %v", out, err)
	}
	d := cal.Deployment("gpt-4o")
	if d == nil || d.OK != 40 || len(d.Points) != 40 {
		t.Fatalf("calibration = %+v, want gpt-4o with 40 answered points", d)
	}
	if d.TokensPerChunk < 1.9 || d.TokensPerChunk > 2.1 {
		t.Errorf("tokens_per_chunk = %g, want 2 (the stand-in sends two per chunk)", d.TokensPerChunk)
	}
	if d.TTFT.PerPromptToken <= 0 {
		t.Errorf("ttft per_prompt_token = %g, want > 0 (the stand-in's grows 0.01 ms a token)", d.TTFT.PerPromptToken)
	}

	scen := filepath.Join(dir, "replay.yaml")
	if err := os.WriteFile(scen, []byte(`name: replay
duration: 20m
seed: 5
model: gpt-4o
clock: virtual
gateway:
  products: [{name: p, tokens_per_minute: 100000000}]
  subscriptions: [{id: s, key: k, product: p, team: t}]
  backends:
    - {name: calibrated, mock: {calibration: calib.yaml}}
personas:
  - {name: caller, kind: chat, team: t, subscription: s, count: 10, rate: 30/min, stream: true, profile: context}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	run, err := runner.Run(context.Background(), runner.Options{Scenario: scen, OutDir: dir}, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	st := run.Load.Personas[0]
	if st.OK < 3000 {
		t.Fatalf("replay answered %d requests, want thousands", st.OK)
	}
	lengths := completionLengths(t, run.Log)
	for _, c := range []struct {
		what      string
		want, got float64
	}{
		{"ttft p50", d.TTFT.Observed.P50, st.TTFT.P50},
		{"ttft p95", d.TTFT.Observed.P95, st.TTFT.P95},
		{"itl p50", d.ITL.Observed.P50, st.ITL.P50},
		{"itl p95", d.ITL.Observed.P95, st.ITL.P95},
		{"completion p50", d.Completion.Observed.P50, quantile(lengths, 0.5)},
		{"completion p95", d.Completion.Observed.P95, quantile(lengths, 0.95)},
	} {
		t.Logf("%s: replay %.3f, calibration %.3f", c.what, c.got, c.want)
		if math.Abs(c.got-c.want) > 0.10*c.want {
			t.Errorf("%s: replay %.3f, calibration measured %.3f: more than 10 %% apart", c.what, c.got, c.want)
		}
	}
}

// completionLengths reads the completion tokens of the answered records.
func completionLengths(t *testing.T, log string) []float64 {
	t.Helper()
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Status     int   `json:"status"`
			Completion int64 `json:"completion_tokens"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Status == 200 {
			out = append(out, float64(r.Completion))
		}
	}
	return out
}

func quantile(x []float64, q float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := q * float64(len(s)-1)
	lo := int(i)
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (i-float64(lo))*(s[lo+1]-s[lo])
}

// TestCalibrateInterrupted: Ctrl-C (a cancelled context) stops the load
// early and what was measured until then is written; a calibration file
// that is not one is never overwritten.
func TestCalibrateInterrupted(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&standIn{rng: rand.New(rand.NewPCG(8, 8))})
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "calib.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	res, err := calibrate.Run(ctx, calibrate.Options{Target: srv.URL, Deployment: "gpt-4o", Profile: "context",
		Duration: time.Minute, Rate: 10, Out: out, Drain: 5 * time.Second}, io.Discard)
	if err != nil {
		t.Fatalf("calibrate: %v", err)
	}
	cal, err := mockllm.LoadCalibration(out)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Sent < 1 || res.Sent >= 300 || int64(len(cal.Deployments[0].Points)) != res.Sent {
		t.Fatalf("interrupted %v after %d answers, %d points written", res.Interrupted, res.Sent, len(cal.Deployments[0].Points))
	}

	notCalib := filepath.Join(dir, "notes.yaml")
	if err := os.WriteFile(notCalib, []byte("hello: world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = calibrate.Run(context.Background(), calibrate.Options{Target: srv.URL, Deployment: "gpt-4o", Out: notCalib}, io.Discard)
	if b, _ := os.ReadFile(notCalib); err == nil || !strings.Contains(err.Error(), "notes.yaml:1:1") || string(b) != "hello: world\n" {
		t.Fatalf("over a file that is not a calibration: %v; file now %q", err, b)
	}
}
