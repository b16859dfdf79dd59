package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/internal/faultio"
	"github.com/aiload/aiload/record"
)

// logBuf collects what the gateway logs (Options.Logf, Serve's stderr).
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) logf(format string, args ...any) {
	fmt.Fprintf(l, format+"\n", args...)
}
func (l *logBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// faultGateway serves cfgYAML on loopback with its records going to a
// record.Writer over disk.
func faultGateway(t *testing.T, cfgYAML, backendURL string, disk io.Writer, opts gateway.Options, wopts ...record.Option) (*gateway.Gateway, *record.Writer, string) {
	t.Helper()
	var cfg gateway.Config
	if err := yaml.UnmarshalWithOptions([]byte(cfgYAML), &cfg, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	w := record.NewWriter(disk, time.Hour, wopts...) // flushed by the test, not a timer
	opts.Sink = w
	gw, err := gateway.New(cfg, backendURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = w.Close() })
	return gw, w, srv.URL
}

const faultCfg = `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`

func decodeRecords(t *testing.T, b []byte) []record.Record {
	t.Helper()
	var out []record.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r record.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("record line %d %q: %v", len(out)+1, sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func scrape(t *testing.T, gw *gateway.Gateway) string {
	t.Helper()
	rec := httptest.NewRecorder()
	gw.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// TestRecordLogFullDiskRecovers: a full disk neither stops the records nor
// loses them: requests are served, their records wait in memory, and once
// space is freed every record lands whole, the one the full disk cut
// included (before, the writer's first error was sticky: every later record
// was lost, the log ended in a torn line).
func TestRecordLogFullDiskRecovers(t *testing.T) {
	t.Parallel()
	be := newSpy(t, 20)
	disk := faultio.New()
	_, w, api := faultGateway(t, faultCfg, be.srv.URL, disk, gateway.Options{})
	send := func(n int) {
		for range n {
			if a := post(t, api, chatPath, "k1", chatBody(5), nil); a.status != 200 {
				t.Fatalf("status %d %s", a.status, a.body)
			}
		}
	}
	send(10)
	disk.Fill(300) // a record is about 600 bytes: the next one is cut
	send(30)
	if err := w.Flush(); err == nil {
		t.Fatal("flush to a full disk succeeded")
	}
	disk.Free()
	if err := w.Flush(); err != nil {
		t.Fatalf("flush once space was freed: %v", err)
	}
	send(15)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if recs := decodeRecords(t, disk.Bytes()); len(recs) != 55 || disk.Failures() == 0 {
		t.Fatalf("%d records on disk after %d failed writes; want all 55", len(recs), disk.Failures())
	}
}

// TestRecordsDroppedAreCountedAndLogged: records the writer cannot keep
// (the disk is full and its buffer too) are counted in
// aiload_gateway_records_dropped_total and logged at once, at most once a
// second; requests are still served (--on-record-error=serve).
func TestRecordsDroppedAreCountedAndLogged(t *testing.T) {
	t.Parallel()
	be := newSpy(t, 20)
	disk := faultio.New()
	var log logBuf
	gw, w, api := faultGateway(t, faultCfg, be.srv.URL, disk, gateway.Options{Logf: log.logf}, record.MaxPending(2000))
	disk.Fill(0)
	post(t, api, chatPath, "k1", chatBody(5), nil)
	_ = w.Flush() // the write that finds the disk full
	for range 20 {
		if a := post(t, api, chatPath, "k1", chatBody(5), nil); a.status != 200 {
			t.Fatalf("status %d, want 200 (serve on)", a.status)
		}
	}
	dropped := w.Dropped()
	if dropped < 15 || gw.RecordsDropped() != dropped {
		t.Fatalf("writer dropped %d, gateway counted %d; want the same, >= 15", dropped, gw.RecordsDropped())
	}
	if m := scrape(t, gw); !strings.Contains(m, fmt.Sprintf("aiload_gateway_records_dropped_total %d", dropped)) {
		t.Fatalf("/metrics lacks aiload_gateway_records_dropped_total %d:\n%s", dropped, m)
	}
	if got := log.String(); !strings.Contains(got, "not written") || int64(strings.Count(got, "\n")) >= dropped ||
		!strings.Contains(got, "no space left on device") {
		t.Fatalf("log %q; want a line naming the cause, not one per record", got)
	}
}

// TestRecordErrorRefuse: with Options.Unmetered (--on-record-error=refuse),
// requests get 503 records_unavailable, unforwarded, while the log cannot
// be written, and are served again once it can.
func TestRecordErrorRefuse(t *testing.T) {
	t.Parallel()
	be := newSpy(t, 20)
	disk := faultio.New()
	var w *record.Writer
	_, w, api := faultGateway(t, faultCfg, be.srv.URL, disk, gateway.Options{Unmetered: func() error { return w.Err() }})
	disk.Fill(0)
	if a := post(t, api, chatPath, "k1", chatBody(5), nil); a.status != 200 {
		t.Fatalf("before the failure is known: %d", a.status)
	}
	_ = w.Flush()
	a := post(t, api, chatPath, "k1", chatBody(5), nil)
	if a.status != 503 || a.errorCode(t) != "records_unavailable" || a.header.Get("Retry-After") == "" || be.hits.Load() != 1 {
		t.Fatalf("while the log cannot be written: %d %s Retry-After %q, backend hits %d; want 503 records_unavailable, 1 hit",
			a.status, a.body, a.header.Get("Retry-After"), be.hits.Load())
	}
	disk.Free()
	_ = w.Flush()
	if a := post(t, api, chatPath, "k1", chatBody(5), nil); a.status != 200 {
		t.Fatalf("once the log is writable: %d %s", a.status, a.body)
	}
	_ = w.Close()
	recs := decodeRecords(t, disk.Bytes())
	if len(recs) != 3 || recs[1].Outcome != record.OutcomeStoreUnavailable || recs[1].Status != 503 {
		t.Fatalf("records %+v; want 3, the second store_unavailable 503", recs)
	}
}

// TestServeRecordLogFailureIsLoud: `gateway serve` says at once on stderr
// and in /metrics that the record log cannot be written, while serving
// (before, nothing showed until shutdown), and says so again when it can.
func TestServeRecordLogFailureIsLoud(t *testing.T) {
	t.Parallel()
	be := newSpy(t, 20)
	disk := faultio.New()
	disk.Fill(0)
	var stderr logBuf
	api, admin, stop := serveFault(t, be.srv.URL, gateway.ServeOptions{LogWriter: disk}, &stderr)
	if a := post(t, api, chatPath, "k1", chatBody(5), nil); a.status != 200 {
		t.Fatalf("status %d", a.status)
	}
	waitFor(t, "stderr names the failure", func() bool { return strings.Contains(stderr.String(), "cannot be written") })
	if m := get(t, admin+"/metrics"); !strings.Contains(m, "aiload_gateway_record_log_writable 0") {
		t.Fatalf("/metrics lacks aiload_gateway_record_log_writable 0")
	}
	disk.Free()
	waitFor(t, "stderr says the log is writable again", func() bool { return strings.Contains(stderr.String(), "writable again") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if recs := decodeRecords(t, disk.Bytes()); len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
}

// TestServeContinuesTornLog: a log left with a torn last line (a full disk
// or a crash) is continued on a new line: the next records stay readable
// (before, the first one was glued to the torn line).
func TestServeContinuesTornLog(t *testing.T) {
	t.Parallel()
	be := newSpy(t, 20)
	logPath := filepath.Join(t.TempDir(), "tokens.jsonl")
	writeFile(t, logPath, `{"schema":1,"request_id":"whole"}`+"\n"+`{"schema":1,"requ`)
	api, _, stop := serveFault(t, be.srv.URL, gateway.ServeOptions{Log: logPath}, io.Discard)
	post(t, api, chatPath, "k1", chatBody(5), nil)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(logPath)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[1] != `{"schema":1,"requ` || !json.Valid([]byte(lines[2])) {
		t.Fatalf("log:\n%s\nwant the whole line, the torn one, then the new record", b)
	}
}

// TestServeFullTmpfs: `gateway serve` with its log on a real file system
// that fills up (a 1 MiB tmpfs; needs root, else skipped). Before, the
// gateway answered 300 requests with 101 records (the last torn), said
// nothing until shutdown, and recorded none of the 150 requests after
// space was freed. Now every record lands, the log has no torn line, and
// the failure and the recovery are on stderr while they happen.
func TestServeFullTmpfs(t *testing.T) {
	t.Parallel()
	dir := tmpfs(t, "1m")
	filler := filepath.Join(dir, "filler")
	fillDisk(t, filler)
	if err := os.Truncate(filler, fileSize(t, filler)-8<<10); err != nil { // room for about a dozen records
		t.Fatal(err)
	}
	be := newSpy(t, 20)
	var stderr logBuf
	logPath := filepath.Join(dir, "tokens.jsonl")
	api, admin, stop := serveFault(t, be.srv.URL, gateway.ServeOptions{Log: logPath}, &stderr)
	send := func(n int) {
		for range n {
			if a := post(t, api, chatPath, "k1", chatBody(5), nil); a.status != 200 {
				t.Fatalf("status %d %s", a.status, a.body)
			}
		}
	}
	send(300)
	waitFor(t, "stderr names the full disk", func() bool { return strings.Contains(stderr.String(), "no space left on device") })
	if m := get(t, admin+"/metrics"); !strings.Contains(m, "aiload_gateway_record_log_writable 0") {
		t.Fatalf("/metrics lacks aiload_gateway_record_log_writable 0")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stderr says the log is writable again", func() bool { return strings.Contains(stderr.String(), "writable again") })
	send(150)
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if recs := decodeRecords(t, b); len(recs) != 450 {
		t.Fatalf("%d records in the log, want 450; stderr:\n%s", len(recs), stderr.String())
	}
}

// tmpfs mounts a tmpfs of size under a temporary directory, or skips the
// test when it cannot (not root, no mount).
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() }) // lazy: a failed test may leave the log open
	return dir
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// serveFault runs gateway.Serve on loopback ports in front of backendURL
// with faultCfg's subscription; stop cancels it and returns its error.
func serveFault(t *testing.T, backendURL string, opts gateway.ServeOptions, stderr io.Writer) (api, admin string, stop func() error) {
	t.Helper()
	dir := t.TempDir()
	opts.Config = filepath.Join(dir, "gateway.yaml")
	writeFile(t, opts.Config, "backends: [{name: b, tier: payg, url: "+backendURL+"}]\n"+faultCfg)
	opts.Listen, opts.Admin = "127.0.0.1:0", "127.0.0.1:0"
	if opts.Log == "" {
		opts.Log = filepath.Join(dir, "tokens.jsonl")
	}
	ready := make(chan [2]string, 1)
	opts.Ready = func(api, admin string) { ready <- [2]string{api, admin} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gateway.Serve(ctx, opts, stderr) }()
	t.Cleanup(cancel)
	select {
	case a := <-ready:
		return "http://" + a[0], "http://" + a[1], func() error { cancel(); return <-done }
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	return "", "", nil
}

// waitFor polls ok for up to 10 s (the gateway's own timers run on the
// wall clock).
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// TestErrorBodiesHideInternalAddresses: a backend that cannot be reached
// and a counter store that is down are answered with a generic message and
// the request id; the backend's URL (with its user name) and the store's
// address go to the gateway's log only (before, both were in the body).
func TestErrorBodiesHideInternalAddresses(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL, _ := url.Parse(dead.URL)
	dead.Close() // nothing listens there any more
	deadURL.User = url.User("svc-aiload")
	var log logBuf
	_, _, api := faultGateway(t, "backends: [{name: east, tier: payg, url: '"+deadURL.String()+"'}]\n"+faultCfg, "", io.Discard, gateway.Options{Logf: log.logf})
	a := post(t, api, chatPath, "k1", chatBody(5), nil)
	id := a.header.Get("x-ms-request-id")
	body := string(a.body)
	if a.status != 502 || a.errorCode(t) != "backend_unreachable" || strings.Contains(body, deadURL.Host) ||
		strings.Contains(body, "svc-aiload") || id == "" || !strings.Contains(body, id) {
		t.Fatalf("502 body %s (request id %q); want a generic message with the request id, no address", body, id)
	}
	if l := log.String(); !strings.Contains(l, id) || !strings.Contains(l, deadURL.Host) {
		t.Fatalf("log %q lacks the request id and the backend's address", l)
	}

	storeLog := logBuf{}
	var cfg gateway.Config
	if err := yaml.Unmarshal([]byte("products: [{name: p, tokens_per_minute: 1000}]\nsubscriptions: [{id: s1, key: k1, product: p, team: t}]\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	gw, err := gateway.New(cfg, "http://127.0.0.1:9", gateway.Options{Sink: s, Store: failingStore{addr: "10.9.8.7:6379"}, Logf: storeLog.logf})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	a = post(t, srv.URL, chatPath, "k1", chatBody(5), nil)
	id = a.header.Get("x-ms-request-id")
	if a.status != 503 || a.errorCode(t) != "counter_store_unavailable" || strings.Contains(string(a.body), "10.9.8.7") || !strings.Contains(string(a.body), id) {
		t.Fatalf("503 body %s; want a generic message with the request id %q, no address", a.body, id)
	}
	if l := storeLog.String(); !strings.Contains(l, "10.9.8.7:6379") || !strings.Contains(l, id) {
		t.Fatalf("log %q lacks the store's address and the request id", l)
	}
	// A counter-store outage is its own outcome, not a backend error.
	if r := s.last(t); r.Outcome != record.OutcomeStoreUnavailable || r.Backend != "" || r.Status != 503 {
		t.Fatalf("record %s; want outcome store_unavailable, status 503, no backend", recordJSON(r))
	}
	if !errors.Is(failingStore{}.err(), errStoreDown) {
		t.Fatal("failingStore lost its error")
	}
}

// TestStrictLimitCaseVariantKeys: a backend that reads JSON keys exactly
// (and keeps the first of duplicates) behind a strict 1,000-token limit.
// Before, Go's case-insensitive decoding let {"max_tokens":5000,
// "MAX_TOKENS":5} reserve 5 tokens and be served 5,000, and
// "MODEL":"gpt-4o-mini" price a gpt-4o request as the cheaper model. Now
// every body whose read fields could mean two things is refused with 400
// naming the key, before anything is reserved or forwarded.
func TestStrictLimitCaseVariantKeys(t *testing.T) {
	t.Parallel()
	var served, hits int64
	var mu sync.Mutex
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := exactKeys(body)
		var maxTokens int64 = 4096 // the backend's default cap
		if raw, ok := req["max_tokens"]; ok {
			_ = json.Unmarshal(raw, &maxTokens)
		}
		var model string
		_ = json.Unmarshal(req["model"], &model)
		mu.Lock()
		served += maxTokens
		hits++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"length"}],"usage":{"prompt_tokens":10,"completion_tokens":%d,"total_tokens":%d}}`,
			model, maxTokens, 10+maxTokens)
	}))
	t.Cleanup(be.Close)
	e := start(t, `
backends: [{name: b, url: `+be.URL+`}]
products: [{name: p, token_limits: [{tokens_per_minute: 1000, mode: strict}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct{ name, body, param, code string }{
		{"case variants collide", `{"model":"gpt-4o-mini","max_tokens":5000,"MAX_TOKENS":5,` + msgs + `}`, "MAX_TOKENS", "unknown_parameter"},
		{"case variant alone", `{"model":"gpt-4o-mini","MAX_TOKENS":5,` + msgs + `}`, "MAX_TOKENS", "unknown_parameter"},
		{"model variant", `{"model":"gpt-4o","MODEL":"gpt-4o-mini","max_tokens":5,` + msgs + `}`, "MODEL", "unknown_parameter"},
		{"duplicate cap", `{"model":"gpt-4o-mini","max_tokens":5000,"max_tokens":5,` + msgs + `}`, "max_tokens", "duplicate_parameter"},
		{"message content variant", `{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi","Content":"` +
			strings.Repeat("long prompt ", 500) + `"}]}`, "messages[0].Content", "unknown_parameter"},
	} {
		a := post(t, e.url, chatPath, "k1", tc.body, nil)
		var got struct {
			Error struct{ Param, Code string } `json:"error"`
		}
		_ = json.Unmarshal(a.body, &got)
		if a.status != 400 || got.Error.Param != tc.param || got.Error.Code != tc.code {
			t.Errorf("%s: %d %s; want 400 param %q code %q", tc.name, a.status, a.body, tc.param, tc.code)
		}
		if r := e.sink.last(t); r.Outcome != record.OutcomeBadRequest {
			t.Errorf("%s: record outcome %s, want bad_request", tc.name, r.Outcome)
		}
	}
	if a := post(t, e.url, chatPath, "k1", `{"model":"gpt-4o-mini","max_tokens":5,`+msgs+`}`, nil); a.status != 200 {
		t.Fatalf("a plain request: %d %s", a.status, a.body)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 1 || served != 5 {
		t.Fatalf("backend answered %d requests with %d completion tokens; want 1 with 5 (a strict 1,000-token limit)", hits, served)
	}
}

// exactKeys decodes a JSON object as a backend that reads keys exactly and
// keeps the first of duplicates would.
func exactKeys(body []byte) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return out
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out
		}
		if k := tok.(string); out[k] == nil {
			out[k] = v
		}
	}
	return out
}
