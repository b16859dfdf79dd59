package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
)

// runScenario runs a scenario file shortened to d and checks that every
// request sent has its record in DuckDB and that summary.json and the
// .hlog were written.
func runScenario(t *testing.T, path string, d time.Duration) *Result {
	t.Helper()
	res, err := Run(context.Background(), Options{Scenario: path, OutDir: t.TempDir(), Duration: d}, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("run %s: %v", path, err)
	}
	tot := res.Load.Totals()
	if tot.Sent == 0 || res.Records != tot.Sent {
		t.Fatalf("%s: %d records in DuckDB, %d requests sent; want equal and > 0", path, res.Records, tot.Sent)
	}
	var sf SummaryFile
	b, err := os.ReadFile(res.SummaryJSON)
	if err != nil || json.Unmarshal(b, &sf) != nil || len(sf.Load.Personas) != len(res.Scenario.Personas) || sf.Total.Sent != tot.Sent {
		t.Fatalf("%s: summary.json unreadable or incomplete (%v)", path, err)
	}
	if st, err := os.Stat(res.HistogramLog); err != nil || st.Size() == 0 {
		t.Fatalf("%s: no latency.hlog (%v)", path, err)
	}
	return res
}

// withCounterKey writes a copy of a scenario with another counter key.
func withCounterKey(t *testing.T, path, from, to string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), "counter_key: "+from, "counter_key: "+to, 1)
	if src == string(b) {
		t.Fatalf("%s has no counter_key: %s", path, from)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(out, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNATScenario runs 100 users behind 4 egress addresses twice: with
// the product's limit keyed by client IP, every one of the 4 addresses is
// throttled and the 429s name the address as counter key; keyed by the
// per-user header, the same traffic gets no 429 at all.
func TestNATScenario(t *testing.T) {
	t.Parallel()
	t.Run("ip key", func(t *testing.T) {
		t.Parallel()
		res := runScenario(t, "../scenarios/nat.yaml", 12*time.Second)
		db := openDB(t, res.DB)
		rows := queryMap(t, db, `SELECT client_ip, count(*) FILTER (WHERE status = 429),
		    count(*) FILTER (WHERE status = 429 AND counter_key = client_ip),
		    count(DISTINCT user_id) FILTER (WHERE status = 429), count(DISTINCT user_id)
		    FROM records GROUP BY client_ip`)
		if len(rows) != 4 {
			t.Fatalf("client addresses %v; want the 4 egress addresses", rows)
		}
		for ip, c := range rows {
			if !strings.HasPrefix(ip, "127.0.0.") || c[0] == 0 || c[1] != c[0] {
				t.Errorf("%s: %d 429s, %d keyed by the address; want 429s, all keyed by it", ip, c[0], c[1])
			}
			if c[2] < c[3]/3 {
				t.Errorf("%s: 429s hit %d of its %d users; the whole address should be throttled", ip, c[2], c[3])
			}
		}
	})
	t.Run("per-user key", func(t *testing.T) {
		t.Parallel()
		path := withCounterKey(t, "../scenarios/nat.yaml", "ip", "header:x-user-id")
		res := runScenario(t, path, 12*time.Second)
		db := openDB(t, res.DB)
		rows := queryMap(t, db, `SELECT 'all', count(*) FILTER (WHERE status = 429), count(DISTINCT user_id), count(DISTINCT client_ip) FROM records`)
		if c := rows["all"]; c[0] != 0 || c[1] < 50 || c[2] != 4 {
			t.Fatalf("per-user key: %d 429s from %d users over %d addresses; want none, from many users over 4", c[0], c[1], c[2])
		}
	})
}

// TestChatScenario runs the chat example: streamed multi-turn
// conversations whose prompts grow, over two subscriptions.
func TestChatScenario(t *testing.T) {
	t.Parallel()
	res := runScenario(t, "../scenarios/chat.yaml", 10*time.Second)
	db := openDB(t, res.DB)
	rows := queryMap(t, db, `SELECT subscription_id, count(*), max(prompt_tokens) FROM records WHERE status = 200 GROUP BY ALL`)
	if len(rows) != 2 {
		t.Fatalf("subscriptions used %v; want both of the pool", rows)
	}
	p := res.Load.Personas[0]
	if p.OK == 0 || p.Goodput == 0 || p.Goodput > p.OK {
		t.Fatalf("chat: %d ok, goodput %d", p.OK, p.Goodput)
	}
	// the streamed answers the callers read to the end are ok records too
	ok := queryMap(t, db, `SELECT 'ok', count(*) FILTER (WHERE outcome = 'ok' AND stream) FROM records`)
	if ok["ok"][0] != p.OK {
		t.Fatalf("%d streamed ok records, callers saw %d ok", ok["ok"][0], p.OK)
	}
}

// TestBatchScenario runs the batch example until its job outruns the
// limit: the job's callers get 429s and back off.
func TestBatchScenario(t *testing.T) {
	t.Parallel()
	res := runScenario(t, "../scenarios/batch.yaml", 12*time.Second)
	p := res.Load.Personas[0]
	if p.Jobs == nil || p.Jobs.Started != 1 || p.Throttled == 0 || p.Retries == 0 {
		t.Fatalf("batch: jobs %+v, %d 429s, %d retries; want a job throttled and retrying", p.Jobs, p.Throttled, p.Retries)
	}
}

// TestAgentScenario runs the agent example: pipelines start and each ends
// completed, broken or cut by the end of the run.
func TestAgentScenario(t *testing.T) {
	t.Parallel()
	res := runScenario(t, "../scenarios/agent.yaml", 10*time.Second)
	ps := res.Load.Personas[0].Pipelines
	if ps == nil || ps.Started == 0 || ps.Completed == 0 || ps.Started != ps.Completed+ps.Broken+ps.Unfinished {
		t.Fatalf("agent pipelines %+v", ps)
	}
}

// TestMixedDayScenario runs the first hours of the mixed day: all four
// kinds of callers get answers, the batch job fills the PTU deployment and
// the gateway spills over to pay-as-you-go, and the office's users arrive
// from their 4 egress addresses.
func TestMixedDayScenario(t *testing.T) {
	t.Parallel()
	res := runScenario(t, "../scenarios/mixed-day.yaml", 20*time.Second)
	kinds := map[string]bool{}
	for _, p := range res.Load.Personas {
		if p.OK == 0 {
			t.Errorf("persona %s (%s): no successful request", p.Name, p.Kind)
		}
		kinds[p.Kind] = true
	}
	if len(kinds) != 4 {
		t.Errorf("persona kinds %v, want all four", kinds)
	}
	db := openDB(t, res.DB)
	tiers := queryMap(t, db, `SELECT backend_tier, count(*) FROM records WHERE status = 200 GROUP BY ALL`)
	if tiers["ptu"][0] == 0 || tiers["payg"][0] == 0 {
		t.Errorf("answers by backend tier %v; want PTU first and PAYG spill-over", tiers)
	}
	ips := queryMap(t, db, `SELECT 'office', count(DISTINCT client_ip) FROM records WHERE persona = 'office-users'`)
	if ips["office"][0] != 4 {
		t.Errorf("office users came from %d addresses, want 4", ips["office"][0])
	}
	// the scenario's pricing reaches summary.json as written
	var sf SummaryFile
	b, _ := os.ReadFile(res.SummaryJSON)
	if err := json.Unmarshal(b, &sf); err != nil || sf.Pricing["ptu_deployments"] == nil {
		t.Errorf("summary.json pricing %v (%v)", sf.Pricing, err)
	}
}

// TestExternalTarget points a scenario at an external endpoint (here an
// Azure-OpenAI-shaped server on loopback that wants a bearer token and an
// api-version): no embedded gateway starts, requests carry the scenario's
// key, token and api-version, and summary.json still reports the callers.
func TestExternalTarget(t *testing.T) {
	t.Parallel()
	mock := mockllm.New(mockllm.Config{Seed: 1})
	var bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-123" || r.Header.Get("api-key") != "key-9" ||
			r.URL.Query().Get("api-version") != "2025-01-01-preview" || !strings.HasPrefix(r.URL.Path, "/openai/deployments/my-dep/") {
			bad.Add(1)
			http.Error(w, "unexpected request", http.StatusUnauthorized)
			return
		}
		mock.ServeHTTP(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	sc := filepath.Join(dir, "ext.yaml")
	src := `name: ext
duration: 2s
model: my-dep
target:
  url: ` + srv.URL + `
  api_version: 2025-01-01-preview
  key_header: api-key
  bearer_token: tok-123
personas:
  - {name: p, key: key-9, rate: 20/s, arrival: constant, prompt_tokens: 50, completion_tokens: 20}
`
	if err := os.WriteFile(sc, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	res, err := Run(context.Background(), Options{Scenario: sc, OutDir: dir}, io.Discard, &stderr)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// no database is written, and the progress lines do not say one is
	if out := stderr.String(); strings.Contains(out, "database") || !strings.Contains(out, "writing the summary") {
		t.Errorf("progress lines of an external-target run:\n%s", out)
	}
	p := res.Load.Personas[0]
	if bad.Load() != 0 || p.OK < 35 || p.OK != p.Sent {
		t.Fatalf("%d requests refused by the target, %d ok of %d sent", bad.Load(), p.OK, p.Sent)
	}
	if res.Records != 0 {
		t.Fatalf("%d gateway records for an external target", res.Records)
	}
	var sf SummaryFile
	b, _ := os.ReadFile(res.SummaryJSON)
	if err := json.Unmarshal(b, &sf); err != nil || sf.Target != srv.URL || sf.Total.OK != p.OK {
		t.Fatalf("summary.json target %q total ok %d (%v)", sf.Target, sf.Total.OK, err)
	}
}

// TestUserJWT gives each user its own token signed with the embedded
// gateway's HS256 key: the gateway validates every one and keys its limit
// on the sub claim, one counter per user.
func TestUserJWT(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sc := filepath.Join(dir, "jwt.yaml")
	src := `name: jwt
duration: 2s
gateway:
  jwt:
    issuer: https://issuer.example
    audiences: [api://aiload]
    keys: [{kid: k1, alg: HS256, secret: "0123456789abcdef0123456789abcdef"}]
    required_claims: {scp: chat}
  products:
    - name: per-user
      token_limits: [{counter_key: "jwt:sub", tokens_per_minute: 100000}]
  subscriptions: [{id: s1, key: k1, product: per-user, team: a}]
personas:
  - name: app
    subscription: s1
    count: 5
    rate: 4/s
    user_jwt: {issuer: https://issuer.example, audience: api://aiload, claims: {scp: chat}}
    prompt_tokens: 50
    completion_tokens: 20
`
	if err := os.WriteFile(sc, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Scenario: sc, OutDir: dir}, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	db := openDB(t, res.DB)
	rows := queryMap(t, db, `SELECT counter_key, count(*), count(*) FILTER (WHERE status = 200) FROM records GROUP BY ALL`)
	if len(rows) != 5 {
		t.Fatalf("counter keys %v; want one per user", rows)
	}
	for k, c := range rows {
		if !strings.HasPrefix(k, "app-") || c[0] != c[1] {
			t.Errorf("counter key %q: %d requests, %d ok; want app-<n>, all ok", k, c[0], c[1])
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the progress lines' goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
