package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/golang-jwt/jwt/v5"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/policy/policytest"
)

// callConfig has a limit of each kind, validate-jwt, dimensions, and a
// PTU backend that refuses often, with a PAYG backend that fails some
// requests and sends streams without usage.
const callConfig = `
id: gw-call
user_id_header: x-user-id
products:
  - name: std
    token_limits:
      - {counter_key: subscription, tokens_per_minute: 4000, estimate_prompt_tokens: true, remaining_tokens_header_name: x-left}
      - {counter_key: ip, token_quota: 9000, token_quota_period: Hourly}
  - name: strict
    token_limits:
      - {counter_key: "header:x-user-id", tokens_per_minute: 20000, mode: strict, default_max_tokens: 300, retry_after_header_name: x-wait}
      - {counter_key: subscription, token_quota: 6000, token_quota_period: Daily, remaining_quota_tokens_header_name: x-quota-left}
subscriptions:
  - {id: s1, key: k1, product: std, team: a, metadata: {cc: "42"}}
  - {id: s2, key: k2, product: strict, team: b}
jwt:
  keys: [{alg: HS256, secret: "0123456789abcdef0123456789abcdef"}]
emit_token_metric:
  dimensions: [{name: User ID}, {name: Backend ID}, {name: who, value: "header:x-user-id"}]
backends:
  - name: ptu
    tier: ptu
    priority: 1
    deployments: [gpt-4o-mini]
    circuit_breaker: {failure_count: 3, interval: 10s, status_ranges: ["429"], trip_duration: 5s, accept_retry_after: true}
  - {name: payg, tier: payg, priority: 2}
`

// callSide is one gateway with its two mocks on a fake clock.
type callSide struct {
	clock *policytest.FakeClock
	sink  *sink
	gw    *gateway.Gateway
	url   string // over HTTP: the gateway's address
}

func newCallSide(t *testing.T, overHTTP bool) *callSide {
	t.Helper()
	var cfg gateway.Config
	if err := yaml.UnmarshalWithOptions([]byte(callConfig), &cfg, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	s := &callSide{clock: policytest.NewFakeClock(t0), sink: &sink{}}
	mocks := map[string]*mockllm.Server{
		"ptu":  mockllm.New(mockllm.Config{Seed: 1, PTUTPM: 6000, Clock: s.clock}),
		"payg": mockllm.New(mockllm.Config{Seed: 2, ErrorRate: 0.15, OmitStreamUsage: true, Clock: s.clock}),
	}
	urls, inProcess := map[string]string{}, map[string]chat.Caller{}
	for name, m := range mocks {
		urls[name] = "http://" + name + ".test"
		if overHTTP {
			srv := httptest.NewServer(m)
			t.Cleanup(srv.Close)
			urls[name] = srv.URL
		}
		inProcess[urls[name]] = m
	}
	n := 0
	ids := func() string { n++; return fmt.Sprintf("req-%d", n) }
	gw, err := gateway.New(cfg, "", gateway.Options{Clock: s.clock, Timing: s.clock, Sink: s.sink, BackendURLs: urls,
		InProcess: inProcess, RequestID: ids})
	if err != nil {
		t.Fatal(err)
	}
	s.gw = gw
	if overHTTP {
		srv := httptest.NewServer(gw)
		t.Cleanup(srv.Close)
		s.url = srv.URL
	}
	return s
}

// callCase is one request, as JSON over HTTP and as a chat.Call.
type callCase struct {
	deployment string // "" for the OpenAI route
	header     map[string]string
	model      string
	msgs       []string // alternately user and assistant texts
	maxTokens  int64    // 0: none
	stream     bool
}

func (c callCase) json() string {
	req := map[string]any{"model": c.model}
	var msgs []map[string]string
	for i, m := range c.msgs {
		msgs = append(msgs, map[string]string{"role": []string{"user", "assistant"}[i%2], "content": m})
	}
	req["messages"] = msgs
	if c.maxTokens > 0 {
		req["max_tokens"] = c.maxTokens
	}
	if c.stream {
		req["stream"], req["stream_options"] = true, map[string]bool{"include_usage": true}
	}
	b, _ := json.Marshal(req)
	return string(b)
}

func (c callCase) call(gw *gateway.Gateway) *chat.Call {
	cc := &chat.Call{Deployment: c.deployment, Body: chat.Body{Model: c.model, MaxTokens: c.maxTokens, Stream: c.stream, IncludeUsage: c.stream}}
	for k, v := range c.header {
		cc.Header.Set(k, v)
	}
	for i, m := range c.msgs {
		tokens := int64(-1) // counted by the gateway, or given as the load generator gives them
		if i%2 == 1 {
			tokens = gw.Tokens(c.model, m)
		}
		cc.Body.Messages = append(cc.Body.Messages, chat.Msg{Role: []string{"user", "assistant"}[i%2], Text: m, Tokens: tokens})
	}
	return cc
}

// TestCallMatchesHTTP: two gateways with one config, mocks and clock, one
// served over HTTP with JSON bodies and one called in process with the
// same requests, answer with the same statuses, limit headers and usage,
// and write the same records, through 401s, 404s, TPM 429s, quota 403s,
// strict reservations, PTU refusals spilling over, tripped breakers,
// backend 500s and streams with and without a usage chunk.
func TestCallMatchesHTTP(t *testing.T) {
	t.Parallel()
	overHTTP, inProcess := newCallSide(t, true), newCallSide(t, false)
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": t0.Add(time.Hour).Unix()}).
		SignedString([]byte("0123456789abcdef0123456789abcdef"))
	bearer := "Bearer " + tok
	var cases []callCase
	long := strings.Repeat("please summarize the following report about quarterly sales ", 60)
	cases = append(cases,
		callCase{model: "gpt-4o-mini", msgs: []string{"hi"}, maxTokens: 50},                                                                           // no key
		callCase{header: map[string]string{"Ocp-Apim-Subscription-Key": "nope", "Authorization": bearer}, model: "gpt-4o-mini", msgs: []string{"hi"}}, // bad key
		callCase{header: map[string]string{"Ocp-Apim-Subscription-Key": "k1", "Authorization": "Bearer x.y.z"}, model: "gpt-4o-mini", msgs: []string{"hi"}},
		callCase{header: map[string]string{"Ocp-Apim-Subscription-Key": "k1", "Authorization": bearer}, model: "gpt-4o-mini"},                    // no messages
		callCase{header: map[string]string{"Api-Key": "k1", "Authorization": bearer}, deployment: "nope", model: "x", msgs: []string{"hi"}},      // unknown deployment
		callCase{header: map[string]string{"Ocp-Apim-Subscription-Key": "k1", "Authorization": bearer}, model: "", msgs: []string{"hi"}},         // no model
		callCase{header: map[string]string{"Ocp-Apim-Subscription-Key": "k1", "Authorization": bearer}, model: "other", msgs: []string{"hello"}}, // served by payg only
	)
	for i := range 40 {
		h := map[string]string{"Ocp-Apim-Subscription-Key": []string{"k1", "k2"}[i%2], "Authorization": bearer, "x-user-id": fmt.Sprintf("u%d", i%3),
			gateway.HeaderPersona: "p", gateway.HeaderAttempt: "1"}
		c := callCase{deployment: "gpt-4o-mini", header: h, model: "gpt-4o-mini", msgs: []string{long[:200+37*i], "an earlier answer", "and now?"}}
		if i%3 != 0 {
			c.maxTokens = int64(100 + 20*i)
		}
		c.stream = i%4 == 1
		cases = append(cases, c)
	}
	for i, c := range cases {
		hdr := c.header
		path := chatPath
		if c.deployment != "" {
			path = "/openai/deployments/" + c.deployment + "/chat/completions?api-version=2024-10-21"
		}
		key := hdr["Ocp-Apim-Subscription-Key"]
		a := post(t, overHTTP.url, path, key, c.json(), hdr)
		b := inProcess.gw.Call(context.Background(), c.call(inProcess.gw))
		if b.Err != nil || a.status != b.Status {
			t.Fatalf("case %d: over HTTP %d %s, in process %d %v", i, a.status, a.body, b.Status, b.Err)
		}
		for _, h := range []string{"x-left", "x-ratelimit-remaining-tokens", "x-ratelimit-limit-tokens", "Retry-After", "retry-after-ms", "x-wait", "x-quota-left", "x-ms-request-id", gateway.UtilizationHeader} {
			if a.header.Get(h) != b.Header.Get(h) {
				t.Errorf("case %d: header %s over HTTP %q, in process %q", i, h, a.header.Get(h), b.Header.Get(h))
			}
		}
		if a.status == 200 && !c.stream {
			var cr chat.Response
			_ = json.Unmarshal(a.body, &cr)
			if *cr.Usage != *b.Usage || cr.Choices[0].Message.Text() != b.Text {
				t.Errorf("case %d: usage over HTTP %+v, in process %+v", i, *cr.Usage, *b.Usage)
			}
		}
		if a.status != 200 && a.status != 500 {
			if code := a.errorCode(t); b.Error == nil || b.Error.Code != code {
				t.Errorf("case %d: error code over HTTP %q, in process %+v", i, code, b.Error)
			}
		}
		overHTTP.clock.Advance(700 * time.Millisecond)
		inProcess.clock.Advance(700 * time.Millisecond)
	}
	ra, rb := overHTTP.sink.all(), inProcess.sink.all()
	if len(ra) != len(cases) || len(rb) != len(cases) {
		t.Fatalf("%d records over HTTP, %d in process, want %d", len(ra), len(rb), len(cases))
	}
	outcomes := map[string]int{}
	for i := range ra {
		outcomes[fmt.Sprintf("%s/%s/%v", ra[i].Outcome, ra[i].Backend, ra[i].TokensEstimated)]++
		if ja, jb := recordJSON(ra[i]), recordJSON(rb[i]); ja != jb {
			t.Errorf("record %d differs:\nover HTTP:  %s\nin process: %s", i, ja, jb)
		}
	}
	t.Logf("outcomes: %v", outcomes)
	for _, want := range []string{"throttled//true", "quota_exceeded//true", "unauthorized//false", "ok/payg/true", "ok/ptu/false", "backend_error/payg/false"} {
		if outcomes[want] == 0 {
			t.Errorf("no %s record: the cases no longer cover it (%v)", want, outcomes)
		}
	}
}
