package apimxml_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/aiload/aiload/record"
)

// sampleConfig names the documents of testdata/samples (shaped like
// Microsoft's AI gateway samples) per scope.
const sampleConfig = `subscriptions:
  - {id: sub-std, key: key-std, product: standard, team: t1}
  - {id: sub-small, key: key-small, product: small, team: t2}
backends:
  - {name: ptu, tier: ptu}
apim:
  global: DIR/GLOBAL
  products: {standard: DIR/standard.xml, small: DIR/small.xml}
  backends: DIR/backends.json
  named_values: {standard-tpm: "30", standard-quota: "100000", small-quota: "20", ptu-url: PTU, payg-url: PAYG}
`

// fakeBackend answers 12 tokens, or 429 with Retry-After while busy; it
// counts the requests it got.
type fakeBackend struct {
	busy atomic.Bool
	hits atomic.Int64
	srv  *httptest.Server
}

func newFakeBackend(t *testing.T, name string) *fakeBackend {
	f := &fakeBackend{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-served-by", name)
		if f.busy.Load() {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded call rate limit."}}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

type sampleAnswer struct {
	status int
	header http.Header
	body   string
}

func sampleCall(t *testing.T, url string, headers map[string]string) sampleAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
		strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return sampleAnswer{resp.StatusCode, resp.Header, string(b)}
}

// TestSamplesServed serves the sample-shaped documents composed across
// scopes on loopback: 401 without a key or a token, 200 from the PTU with
// the limit's headers, the PTU's 429 retried on the PAYG backend, 429 once
// the minute is used up and 403 once a day's quota is, each with API
// Management's body; the records say where each request went.
func TestSamplesServed(t *testing.T) {
	ptu, payg := newFakeBackend(t, "ptu"), newFakeBackend(t, "payg")
	cfg := writeSamples(t, "global.xml", ptu, payg)
	url := serveConfig(t, cfg)
	bearer := "Bearer " + token(t, "k1", jwt.MapClaims{"aud": "api://aiload", "oid": "o-7", "exp": time.Now().Add(time.Hour).Unix()})
	std := map[string]string{"api-key": "key-std", "Authorization": bearer}

	a := sampleCall(t, url, nil)
	if a.status != 401 || !strings.HasPrefix(a.body, `{ "statusCode": 401, "message": "Access denied due to missing subscription key.`) {
		t.Fatalf("no key: %d %s", a.status, a.body)
	}
	a = sampleCall(t, url, map[string]string{"api-key": "key-std"})
	if a.status != 401 || a.body != `{ "statusCode": 401, "message": "Unauthorized. Access token is missing or invalid." }` {
		t.Fatalf("no token: %d %s", a.status, a.body)
	}
	a = sampleCall(t, url, std)
	if a.status != 200 || a.header.Get("x-served-by") != "ptu" || a.header.Get("x-remaining-tokens") != "18" || a.header.Get("x-quota-remaining-tokens") != "99988" {
		t.Fatalf("first request: %d served by %q, x-remaining-tokens %q, x-quota-remaining-tokens %q", a.status,
			a.header.Get("x-served-by"), a.header.Get("x-remaining-tokens"), a.header.Get("x-quota-remaining-tokens"))
	}
	ptu.busy.Store(true) // the PTU refuses: its breaker opens, <retry> sends the request to the pool again
	a = sampleCall(t, url, std)
	if a.status != 200 || a.header.Get("x-served-by") != "payg" || a.header.Get("x-remaining-tokens") != "6" {
		t.Fatalf("PTU busy: %d served by %q, x-remaining-tokens %q; want 200 from payg, 6 left", a.status, a.header.Get("x-served-by"), a.header.Get("x-remaining-tokens"))
	}
	ptu.busy.Store(false)
	if a = sampleCall(t, url, std); a.status != 200 || a.header.Get("x-served-by") != "payg" { // 36 of 30 tokens: admitted while fewer were used
		t.Fatalf("third request: %d served by %q; want 200 from payg while the PTU's breaker is open", a.status, a.header.Get("x-served-by"))
	}
	a = sampleCall(t, url, std)
	if a.status != 429 || a.header.Get("Retry-After") == "" || !strings.HasPrefix(a.body, `{ "statusCode": 429, "message": "Token limit is exceeded. Try again in `) {
		t.Fatalf("minute used up: %d Retry-After %q %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	small := map[string]string{"api-key": "key-small", "Authorization": bearer}
	for i := 0; i < 2; i++ { // 12, then 24 of a 20-token quota
		if a = sampleCall(t, url, small); a.status != 200 {
			t.Fatalf("small %d: %d %s", i+1, a.status, a.body)
		}
	}
	a = sampleCall(t, url, small)
	if a.status != 403 || !strings.HasPrefix(a.body, `{ "statusCode": 403, "message": "Token quota is exceeded. Try again in `) {
		t.Fatalf("quota used up: %d %s", a.status, a.body)
	}
	if ptu.hits.Load() != 2 || payg.hits.Load() != 4 {
		t.Errorf("backend hits: ptu %d payg %d, want 2 (the second refused) and 4", ptu.hits.Load(), payg.hits.Load())
	}
	recs := readRecords(t, filepath.Join(filepath.Dir(cfg), "tokens.jsonl"))
	var backends []string
	for _, r := range recs {
		backends = append(backends, r.Backend)
	}
	if got := strings.Join(backends, ","); got != ",,ptu,payg,payg,,payg,payg," {
		t.Errorf("records' backends %q", got)
	}
	if recs[2].Dims["User"] != "o-7" || recs[2].Dims["Subscription ID"] != "sub-std" {
		t.Errorf("dims %v", recs[2].Dims)
	}
}

// TestSamplesWithoutRetry: without <retry> the PTU's 429 goes to the
// caller, and the PAYG backend is never called.
func TestSamplesWithoutRetry(t *testing.T) {
	ptu, payg := newFakeBackend(t, "ptu"), newFakeBackend(t, "payg")
	url := serveConfig(t, writeSamples(t, "global-noretry.xml", ptu, payg))
	bearer := "Bearer " + token(t, "k1", jwt.MapClaims{"aud": "api://aiload", "exp": time.Now().Add(time.Hour).Unix()})
	ptu.busy.Store(true)
	a := sampleCall(t, url, map[string]string{"api-key": "key-std", "Authorization": bearer})
	if a.status != 429 || a.header.Get("x-served-by") != "ptu" || a.header.Get("Retry-After") != "7" || !strings.Contains(a.body, "exceeded call rate limit") {
		t.Fatalf("PTU busy without retry: %d served by %q Retry-After %q %s", a.status, a.header.Get("x-served-by"), a.header.Get("Retry-After"), a.body)
	}
	if payg.hits.Load() != 0 {
		t.Errorf("payg hits %d, want 0", payg.hits.Load())
	}
}

// writeSamples writes the sample config with global as the global
// document and the backends' URLs; the log goes beside it.
func writeSamples(t *testing.T, global string, ptu, payg *fakeBackend) string {
	t.Helper()
	dir, _ := filepath.Abs("testdata/samples")
	yaml := strings.NewReplacer("DIR", dir, "GLOBAL", global, "PTU", ptu.srv.URL, "PAYG", payg.srv.URL).Replace(sampleConfig)
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readRecords reads the nine records of TestSamplesServed.
func readRecords(t *testing.T, path string) []record.Record {
	t.Helper()
	return readRecordsN(t, path, 9)
}

// readRecordsN reads a JSONL record log, waiting (bounded) for n records.
func readRecordsN(t *testing.T, path string, n int) []record.Record {
	t.Helper()
	var out []record.Record
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out = out[:0]
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r record.Record
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				out = append(out, r)
			}
		}
		f.Close()
		if len(out) >= n {
			return out
		}
	}
	t.Fatalf("%s holds %d records, want %d", path, len(out), n)
	return nil
}

// TestWorkedExample serves examples/apim/scoped (docs/apim.md) as it is,
// its mocks standing in for the deployments: a request without x-team gets
// the check-header's 400, a Standard request the limits' headers.
func TestWorkedExample(t *testing.T) {
	dir := t.TempDir()
	entries, err := os.ReadDir("../../examples/apim/scoped")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join("../../examples/apim/scoped", e.Name()))
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	url := serveConfig(t, filepath.Join(dir, "gateway.yaml"))
	a := sampleCall(t, url, map[string]string{"api-key": "sk-support-primary-0001"})
	if a.status != 400 || a.body != `{ "statusCode": 400, "message": "Name your team in x-team" }` {
		t.Fatalf("without x-team: %d %s", a.status, a.body)
	}
	a = sampleCall(t, url, map[string]string{"api-key": "sk-support-primary-0001", "x-team": "support", "x-user-id": "ana"})
	if a.status != 200 || a.header.Get("x-remaining-tokens") == "" || a.header.Get("x-quota-remaining-tokens") == "" {
		t.Fatalf("standard request: %d x-remaining-tokens %q x-quota-remaining-tokens %q %s", a.status,
			a.header.Get("x-remaining-tokens"), a.header.Get("x-quota-remaining-tokens"), a.body)
	}
	recs := readRecordsN(t, filepath.Join(dir, "tokens.jsonl"), 2)
	if r := recs[1]; r.Backend != "aoai-ptu-eastus" || r.Dims["User"] != "ana" || r.Dims["Team"] != "support" {
		t.Errorf("record backend %q dims %v; want aoai-ptu-eastus, User ana, Team support", r.Backend, r.Dims)
	}
}
