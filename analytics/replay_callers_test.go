package analytics

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseCaller(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string // want "" = an error
	}{
		{"retry_after:3", "retry_after:3"},
		{"retry_after", "retry_after:3"}, // the default count
		{"backoff:5", "backoff:5"},
		{"fail", "fail"},
		{"retry_after:0", "fail"}, // no retries is giving up
		{"fail:2", ""},            // fail takes no count
		{"retry:3", ""},           // unknown behaviour
		{"backoff:-1", ""},        // negative count
		{"backoff:x", ""},         // not a number
	} {
		c, err := ParseCaller(tc.in)
		if got := c.String(); (err != nil) != (tc.want == "") || err == nil && got != tc.want {
			t.Errorf("ParseCaller(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// The callers' behaviour is read from the attempts an aiload run logged.
// Each persona's user gets ten requests, one a minute, every first attempt
// answered 429:
//
//	patient   retried the Retry-After (2,000 ms) after the 429 answered (1 ms
//	          later): retry_after, with at least the default 3 retries
//	jittery   retried 0–900 ms after a 429 that said 5,000 ms: backoff,
//	          initial twice the mean wait (2 × 450 = 900 ms), max the
//	          largest (900 ms)
//	capped    retried twice after the Retry-After, the second retry refused
//	          too and not retried: retry_after with exactly 2 retries
//	quitter   never retried: fail
//	quiet     never refused: nothing to read, the default
func TestInferCallers(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	line := func(persona string, at time.Time, attempt, status int, retryAfterMS int64) {
		outcome := "ok"
		if status == 429 {
			outcome = "throttled"
		}
		fmt.Fprintf(&b, `{"schema":1,"ts":%q,"request_id":"%s-%d","run_id":"r","subscription_id":"s","counter_key":"s","user_id":"%s-1","persona":%q,"attempt":%d,"status":%d,"outcome":%q,"retry_after_ms":%d,"latency_ms":1,"total_tokens":100}`+"\n",
			at.Format(time.RFC3339Nano), persona, b.Len(), persona, persona, attempt, status, outcome, retryAfterMS)
	}
	ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
	for i := range 10 {
		at := t0.Add(time.Duration(i) * time.Minute)
		line("patient", at, 1, 429, 2000)
		line("patient", at.Add(ms(2001)), 2, 200, 0)
		line("jittery", at, 1, 429, 5000)
		line("jittery", at.Add(ms(1+100*int64(i))), 2, 200, 0)
		line("capped", at, 1, 429, 1000)
		line("capped", at.Add(ms(1001)), 2, 429, 1000)
		line("capped", at.Add(ms(2002)), 3, 429, 1000)
		line("quitter", at, 1, 429, 1000)
		line("quiet", at, 1, 200, 0)
	}
	path := filepath.Join(t.TempDir(), "attempts.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	db := openTestDB(t)
	ingest(t, db, path, FormatAiload)
	tab, err := inferCallers(context.Background(), db, RecommendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, name := range tab.names {
		c := tab.callers[i]
		got[name] = fmt.Sprintf("%s (%s)", c, c.Source)
		if c.OnThrottle == CallerBackoff {
			got[name] += fmt.Sprintf(" %v–%v", c.BackoffInitial, c.BackoffMax)
		}
	}
	want := map[string]string{
		"":        "retry_after:3 (default)",
		"patient": "retry_after:3 (records)",
		"jittery": "backoff:3 (records) 900ms–900ms",
		"capped":  "retry_after:2 (records)",
		"quitter": "fail (records)",
		"quiet":   "retry_after:3 (default)",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("callers:\n got %v\nwant %v", got, want)
	}
	// A scenario's callers take precedence; --caller sets the default.
	fail, _ := ParseCaller("fail")
	tab, err = inferCallers(context.Background(), db, RecommendOptions{Caller: fail,
		Callers: map[string]Caller{"patient": {OnThrottle: CallerBackoff, MaxRetries: 6, Source: "scenario"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range tab.names {
		if c := tab.callers[i].String(); name == "patient" && c != "backoff:6" || name == "quiet" && c != "fail" {
			t.Errorf("with a scenario and --caller fail: %s replays %s", name, c)
		}
	}
}
