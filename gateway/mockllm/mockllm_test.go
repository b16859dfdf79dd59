package mockllm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/gateway/tokens"
)

const body = `{"model":"gpt-4o-mini","max_tokens":200,"messages":[{"role":"user","content":"hello there"}]}`

func serve(t *testing.T, c mockllm.Config) string {
	t.Helper()
	srv := httptest.NewServer(mockllm.New(c))
	t.Cleanup(srv.Close)
	return srv.URL
}

func call(t *testing.T, url, b string) (*http.Response, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", strings.NewReader(b))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, string(out), err
}

// TestPTUCeiling: a leaky bucket of ptu_tpm tokens, draining ptu_tpm/60
// per second, charged prompt + max_tokens; 429 with retry-after-ms.
func TestPTUCeiling(t *testing.T) {
	t.Parallel()
	prompt, _ := tokens.NewCounter().Prompt("gpt-4o-mini", []chat.Message{{Role: "user", Content: []byte(`"hello there"`)}})
	charge := prompt + 200
	clock := policytest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	// completions use all of max_tokens, so nothing is corrected at completion
	url := serve(t, mockllm.Config{PTUTPM: 600, MinFraction: 1, Clock: clock}) // drains 10 tokens/s
	for i := 0; i < 2; i++ {
		if resp, _, _ := call(t, url, body); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d, want 200 (bucket %d of 600)", i, resp.StatusCode, int64(i+1)*charge)
		}
	}
	resp, out, _ := call(t, url, body)
	wantMS := (3*charge - 600) * 100 // (level + charge - capacity) / 10 tokens per second
	if resp.StatusCode != 429 || resp.Header.Get("retry-after-ms") != itoa(wantMS) || !strings.Contains(out, `"error"`) {
		t.Fatalf("third request: %d retry-after-ms %q, want 429 and %d", resp.StatusCode, resp.Header.Get("retry-after-ms"), wantMS)
	}
	clock.Advance(time.Duration(wantMS) * time.Millisecond)
	if resp, _, _ := call(t, url, body); resp.StatusCode != 200 {
		t.Fatalf("after waiting retry-after-ms: %d, want 200", resp.StatusCode)
	}
}

// TestPTUSettlesAtCompletion: the bucket is charged prompt + max_tokens at
// arrival and corrected to prompt + completion when the answer is sent, as
// Azure corrects its estimate. With capacity for one charge, the second
// request waits for the first one's actual cost to drain, not its charge.
func TestPTUSettlesAtCompletion(t *testing.T) {
	t.Parallel()
	prompt, _ := tokens.NewCounter().Prompt("gpt-4o-mini", []chat.Message{{Role: "user", Content: []byte(`"hello there"`)}})
	clock := policytest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	url := serve(t, mockllm.Config{PTUTPM: prompt + 200, MinFraction: 0.1, Seed: 3, Clock: clock})
	resp, out, _ := call(t, url, body)
	var first struct {
		Usage struct {
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &first) != nil || first.Usage.CompletionTokens >= 200 {
		t.Fatalf("first request: %d %s; want 200 with fewer than 200 completion tokens", resp.StatusCode, out)
	}
	resp, _, _ = call(t, url, body)
	rate := float64(prompt+200) / 60 // tokens per second
	wantMS := int64(float64(prompt+first.Usage.CompletionTokens) / rate * 1000)
	if got := resp.Header.Get("retry-after-ms"); resp.StatusCode != 429 || got != itoa(wantMS) {
		t.Errorf("second request: %d retry-after-ms %s; want 429 and %d (the first's %d + %d tokens to drain)",
			resp.StatusCode, got, wantMS, prompt, first.Usage.CompletionTokens)
	}
}

// TestPTUOutputRatio: with ptu_output_ratio 4 a request charges prompt +
// 4 × max_tokens (200), so a bucket of 2 × that takes two requests and
// refuses the third, as a bucket of raw tokens would not.
func TestPTUOutputRatio(t *testing.T) {
	t.Parallel()
	prompt, _ := tokens.NewCounter().Prompt("gpt-4o-mini", []chat.Message{{Role: "user", Content: []byte(`"hello there"`)}})
	charge := prompt + 4*200
	clock := policytest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	url := serve(t, mockllm.Config{PTUTPM: 2 * charge, PTUOutputRatio: 4, Clock: clock})
	var got []int
	for range 3 {
		resp, _, _ := call(t, url, body)
		got = append(got, resp.StatusCode)
	}
	if fmt.Sprint(got) != "[200 200 429]" {
		t.Fatalf("statuses %v, want [200 200 429] (each request charges %d of %d)", got, charge, 2*charge)
	}
}

// TestPAYGHasNoCeiling: without ptu_tpm every request is served.
func TestPAYGHasNoCeiling(t *testing.T) {
	t.Parallel()
	url := serve(t, mockllm.Config{})
	for i := 0; i < 30; i++ {
		if resp, _, _ := call(t, url, body); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
}

// TestFaults: each fault at rate 1.
func TestFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     mockllm.Config
		status  int  // expected status, 0 when the call must fail
		failure bool // the client sees a transport error
	}{
		{"error_rate", mockllm.Config{ErrorRate: 1}, 500, false},
		{"reset_rate", mockllm.Config{ResetRate: 1}, 0, true},
		{"timeout_rate", mockllm.Config{TimeoutRate: 1}, 0, true}, // never answers; the client gives up after 2 s
		{"slow first byte", mockllm.Config{SlowFirstByteRate: 1, SlowFirstByte: 10 * time.Millisecond}, 200, false},
	} {
		resp, _, err := call(t, serve(t, tc.cfg), body)
		switch {
		case tc.failure && err == nil:
			t.Errorf("%s: got status %d, want a transport failure", tc.name, resp.StatusCode)
		case !tc.failure && (err != nil || resp.StatusCode != tc.status):
			t.Errorf("%s: got %v %v, want %d", tc.name, resp, err, tc.status)
		}
	}
}

// TestStreaming: SSE chunks, the usage chunk only when asked, [DONE].
func TestStreaming(t *testing.T) {
	t.Parallel()
	url := serve(t, mockllm.Config{MinFraction: 1})
	stream := strings.Replace(body, `"max_tokens":200`, `"max_tokens":20,"stream":true`, 1)
	resp, out, err := call(t, url, stream)
	if err != nil || resp.Header.Get("Content-Type") != "text/event-stream" || !strings.HasSuffix(out, "data: [DONE]\n\n") || strings.Contains(out, "total_tokens") {
		t.Fatalf("stream without include_usage: %v %q", err, out)
	}
	if n := strings.Count(out, `"content":"`); n != 4 { // role chunk + 3 chunks of ≤ 8 tokens
		t.Fatalf("%d content chunks, want 4:\n%s", n, out)
	}
	withUsage := strings.Replace(stream, `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1)
	_, out, _ = call(t, url, withUsage)
	if !strings.Contains(out, `"completion_tokens":20`) {
		t.Fatalf("usage chunk missing:\n%s", out)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []mockllm.Config{{ErrorRate: 1.5}, {ResetRate: -0.1}, {PTUTPM: -1}, {PTUOutputRatio: -1}, {FirstTokenDelay: -time.Second},
		{PerTokenDelay: 20 * time.Millisecond, PerTokenDelayP95: 10 * time.Millisecond}} { // the p95 below the median
		if c.Validate() == nil {
			t.Errorf("%+v: want an error", c)
		}
	}
	if err := (mockllm.Config{PTUTPM: 1000, ErrorRate: 0.1}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestMessageChecks: the mock refuses malformed messages as the Chat
// Completions API does, with its param and code, and serves the forms
// it accepts.
func TestMessageChecks(t *testing.T) {
	srv := httptest.NewServer(mockllm.New(mockllm.Config{Seed: 1}))
	defer srv.Close()
	cases := []struct {
		messages          string
		status            int
		param, code, text string
	}{
		{`[{"role":"user","content":5}]`, 400, "messages[0].content", "invalid_type", "expected one of a string or array of objects, but got an integer instead"},
		{`[{"role":"system","content":"be brief"},{"role":"user"}]`, 400, "messages[1].content", "missing_required_parameter", "Missing required parameter: 'messages[1].content'."},
		{`[{"role":"wizard","content":"x"}]`, 400, "messages[0].role", "invalid_value", "Invalid value: 'wizard'."},
		{`[{"role":"user","content":{"text":"x"}}]`, 400, "messages[0].content", "invalid_type", "but got an object instead"},
		{`[{"role":"developer","content":"x"},{"role":"user","content":[{"type":"text","text":"hi"}]}]`, 200, "", "", ""},
		{`[{"role":"user","content":"x"},{"role":"assistant","content":null},{"role":"tool","content":"42"}]`, 200, "", "", ""},
	}
	for _, c := range cases {
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o-mini","max_tokens":5,"messages":`+c.messages+`}`))
		if err != nil {
			t.Fatal(err)
		}
		var got chat.ErrorBody
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d %s; want %d", c.messages, resp.StatusCode, b, c.status)
			continue
		}
		if c.status == 200 {
			continue
		}
		if err := json.Unmarshal(b, &got); err != nil || got.Error.Param == nil {
			t.Errorf("%s: body %s: want an error with a param", c.messages, b)
			continue
		}
		if *got.Error.Param != c.param || got.Error.Code != c.code || !strings.Contains(got.Error.Message, c.text) {
			t.Errorf("%s: param %q code %q message %q; want %q %q containing %q", c.messages,
				*got.Error.Param, got.Error.Code, got.Error.Message, c.param, c.code, c.text)
		}
	}
}

// TestAzureRouteNeedsAPIVersion: like Azure OpenAI, the deployments route
// without api-version is 404 Resource not found.
func TestAzureRouteNeedsAPIVersion(t *testing.T) {
	srv := httptest.NewServer(mockllm.New(mockllm.Config{Seed: 1}))
	defer srv.Close()
	for _, c := range []struct {
		query  string
		status int
	}{{"", 404}, {"?api-version=2024-10-21", 200}} {
		resp, err := http.Post(srv.URL+"/openai/deployments/gpt-4o/chat/completions"+c.query, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("query %q: %d %s; want %d", c.query, resp.StatusCode, b, c.status)
		}
		if c.status == 404 && string(b) != `{"error":{"code":"404","message":"Resource not found"}}` {
			t.Errorf("404 body %s; want Azure's Resource not found", b)
		}
	}
}
