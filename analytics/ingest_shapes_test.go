package analytics

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// apimRecords renders the APIM records for comparison: id suffix,
// subscription, model, backend, prompt/completion/total tokens, estimated,
// status, outcome, stream, request bytes.
const apimRecords = `SELECT string_agg(right(request_id, 2) || ':' || coalesce(subscription_id, '-') || ':' ||
	coalesce(model, '-') || ':' || coalesce(backend, '-') || ':' || prompt_tokens || '/' || completion_tokens || '/' ||
	total_tokens || ':' || tokens_estimated || ':' || status || ':' || outcome || ':' || coalesce(stream::VARCHAR, '-') || ':' ||
	coalesce(dims['request_bytes'], '-'), ' ' ORDER BY ts)
	FROM records`

// The joined LLM log + gateway log export in every shape Log Analytics
// writes gives the same records: a request split over three sequence rows
// whose last carries the tokens (02), requests the token limit refused with
// and without an LLM log row (03, 04: demand estimated from the request
// size), the backend's own 429 (05), a quota's 403 with max_tokens in the
// logged body (06), a gateway request that is no LLM call (07: dropped) and
// a backend error (08).
func TestIngestAPIMShapes(t *testing.T) {
	t.Parallel()
	want := "01:marketing-prod:gpt-4o:aoai-ptu-swedencentral:1200/300/1500:false:200:ok:false:5400" +
		" 02:support-bot:gpt-4o:aoai-ptu-swedencentral:5200/800/6000:false:200:ok:true:41000" +
		" 03:support-bot:gpt-4o:-:1500/0/1500:true:429:throttled:-:6000" +
		" 04:support-bot:gpt-4o:-:500/0/500:true:429:throttled:false:2000" +
		" 05:marketing-prod:gpt-4o-mini:aoai-payg-eastus2:0/0/0:false:429:backend_throttled:false:3000" +
		" 06:interns:gpt-4o:-:200/100/300:true:403:quota_exceeded:-:800" +
		" 08:marketing-prod:gpt-4o-mini:aoai-payg-eastus2:0/0/0:false:500:backend_error:false:3100"
	for _, file := range []string{
		"apim_joined.jsonl",        // JSON lines
		"apim_joined_compact.json", // a JSON array on one line
		"apim_joined_az.json",      // az monitor log-analytics query -o json: pretty, every value text
		"apim_joined_api.json",     // the Log Analytics API's tables/columns/rows
		"apim_joined_portal.csv",   // the portal's CSV export
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", file)
			if f, err := DetectFormat(path); err != nil || f != FormatAPIM {
				t.Fatalf("DetectFormat = %q, %v; want apim", f, err)
			}
			db := openTestDB(t)
			if res := ingest(t, db, path, FormatAuto); res.Added != 7 {
				t.Errorf("added %d records, want 7", res.Added)
			}
			var got string
			row(t, db, apimRecords, &got)
			if got != want {
				t.Errorf("records:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// The LLM log and the gateway log exported apart give the same records as
// the joined export, whichever is ingested first: the gateway log adds the
// refused requests the LLM log lacks and completes the others; the LLM log
// completes the gateway's refused records with the model and stream flag.
func TestIngestAPIMSeparateShapes(t *testing.T) {
	t.Parallel()
	llm := filepath.Join("testdata", "apim_llm_log.jsonl")
	gw := filepath.Join("testdata", "apim_gateway_log.json")
	want := "01:marketing-prod:gpt-4o:aoai-ptu-swedencentral:1200/300/1500:false:200:ok:false:5400" +
		" 02:support-bot:gpt-4o:aoai-ptu-swedencentral:5200/800/6000:false:200:ok:true:41000" +
		" 03:support-bot:gpt-4o:-:1500/0/1500:true:429:throttled:-:6000" +
		" 04:support-bot:gpt-4o:-:500/0/500:true:429:throttled:false:2000" +
		" 05:marketing-prod:gpt-4o-mini:aoai-payg-eastus2:0/0/0:false:429:backend_throttled:false:3000" +
		" 06:interns:gpt-4o:-:200/100/300:true:403:quota_exceeded:-:800" +
		" 08:marketing-prod:gpt-4o-mini:aoai-payg-eastus2:0/0/0:false:500:backend_error:false:3100"
	for _, tc := range []struct {
		order            []string
		added, completed int64
	}{
		{[]string{llm, gw}, 5 + 2, 5}, // LLM log: 5 requests; gateway: 2 refused without LLM row, completes 5
		{[]string{gw, llm}, 3 + 4, 1}, // gateway: 3 refused; LLM log: 4 more, completes refused 04
	} {
		db := openTestDB(t)
		var added, completed int64
		for _, f := range tc.order {
			r := ingest(t, db, f, FormatAuto)
			added += r.Added
			completed += r.Completed
		}
		var got string
		row(t, db, apimRecords, &got)
		if added != tc.added || completed != tc.completed || got != want {
			t.Errorf("order %v: added %d, completed %d (want %d, %d)\n got %s\nwant %s",
				tc.order, added, completed, tc.added, tc.completed, got, want)
		}
	}
}

// LiteLLM's spend log in each of its shapes gives the same records: the
// /spend/logs/v2 page (metadata and the logged request as objects, pretty),
// /spend/logs (an array; metadata a string in every other row) and the
// table's CSV. Cached tokens come from OpenAI's prompt_tokens_details (x1:
// 800), Anthropic's cache_read_input_tokens (x3: 2,000) or usage_object
// (x7: 300); error codes give the outcome, and the refused x2 carries its
// demand estimated from the logged messages (217 bytes: 55 tokens) and
// max_tokens 500.
func TestIngestLiteLLMShapes(t *testing.T) {
	t.Parallel()
	want := "x1:team-web:gpt-4o:2400/350/2750:800:false:200:ok:1750" +
		" x2:team-web:gpt-4o:55/500/555:0:true:429:throttled:15" +
		" x3:team-research:claude-sonnet-4:2600/400/3000:2000:false:200:ok:4400" +
		" x4:team-web:gpt-4o:0/0/0:0:false:500:backend_error:30000" +
		" x5:team-web:gpt-4o:0/0/0:0:false:408:timeout:10000" +
		" x6:team-web:gpt-4o:0/0/0:0:false:500:backend_error:500" +
		" x7:team-web:gpt-4o:1200/80/1280:300:false:200:ok:1000" +
		" x8:team-web:gpt-4o:0/0/0:0:false:401:unauthorized:10"
	for _, file := range []string{"litellm_v2_page.json", "litellm_v1.json", "litellm_spendlogs.csv"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", file)
			if f, err := DetectFormat(path); err != nil || f != FormatLiteLLM {
				t.Fatalf("DetectFormat = %q, %v; want litellm", f, err)
			}
			db := openTestDB(t)
			if res := ingest(t, db, path, FormatAuto); res.Added != 8 {
				t.Errorf("added %d records, want 8", res.Added)
			}
			var got string
			row(t, db, `SELECT string_agg(right(request_id, 2) || ':' || team || ':' || model || ':' || prompt_tokens || '/' ||
				completion_tokens || '/' || total_tokens || ':' || cached_tokens || ':' || tokens_estimated || ':' || status || ':' ||
				outcome || ':' || latency_ms::BIGINT, ' ' ORDER BY ts) FROM records`, &got)
			if got != want {
				t.Errorf("records:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// A file no format matches says, for each format, which of its
// identifying columns it lacked.
func TestDetectFormatNone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ name, content, msg string }{
		{"usage.csv", "date,team,tokens\n2026-11-01,web,120\n",
			"apim: no TimeGenerated or CorrelationId; litellm: no startTime or request_id; aiload: no ts or request_id"},
		{"rows.json", "[\n  {\n    \"TimeGenerated\": \"2026-11-01T00:00:00Z\",\n    \"request_id\": \"x\"\n  }\n]\n",
			"apim: no CorrelationId; litellm: no startTime; aiload: no ts"},
		{"empty.txt", "", "no CSV header or JSON object found at its start"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := DetectFormat(path)
		var de *DetectError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("DetectFormat(%s) = %v; want a *DetectError saying %q", tc.name, err, tc.msg)
		}
	}
}

// aiload JSONL compressed with gzip is detected from its decompressed start.
func TestDetectFormatGzip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens.jsonl.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"ts":"2026-11-02T11:00:00Z","request_id":"z1","outcome":"ok"}` + "\n"))
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := DetectFormat(path); err != nil || f != FormatAiload {
		t.Errorf("DetectFormat = %q, %v; want aiload", f, err)
	}
}

// The demand series of an API Management export counts what the gateway
// refused: support-bot's minute 09:16 holds its two refused requests'
// estimated 1,500 + 500 tokens, none of them served.
func TestAPIMRefusedDemand(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	ingest(t, db, filepath.Join("testdata", "apim_joined.jsonl"), FormatAuto)
	series, err := Demand(context.Background(), db, DemandOptions{By: BySubscription})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, s := range series {
		for _, p := range s.Points {
			if s.Key == "support-bot" && p.Minute.Format("15:04") == "09:16" {
				got = fmt.Sprintf("demand %d served %d requests %d throttled %d", p.Demand, p.Served, p.Requests, p.Throttled)
			}
		}
	}
	if want := "demand 2000 served 0 requests 2 throttled 2"; got != want {
		t.Errorf("support-bot at 09:16: %s, want %s", got, want)
	}
}
