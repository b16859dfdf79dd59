package loadgen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/internal/h1"
)

// Request headers that tie the gateway's records to what the caller saw.
const (
	HeaderScenario = "X-Aiload-Scenario"
	HeaderPersona  = "X-Aiload-Persona"
	HeaderAttempt  = "X-Aiload-Attempt"
)

// Response headers a proactive caller reads.
const (
	HeaderRemainingTokens = "X-Ratelimit-Remaining-Tokens"
	HeaderLimitTokens     = "X-Ratelimit-Limit-Tokens"
	// HeaderUtilization is where a provisioned (PTU) Azure OpenAI
	// deployment reports its load with each answer, as a percentage ("42.5%").
	HeaderUtilization = "Azure-Openai-Deployment-Utilization"
)

// message is one chat message; tokens is its length as drawn (or as the
// backend reported for assistant turns).
type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	tokens  int64
	// counted is Content's token count by an in-process gateway's
	// tokenizer (see texts); -1 when not counted.
	counted int64
}

// usage is the usage block of a chat completion.
type usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// reply is what an attempt returned besides its timing.
type reply struct {
	content    string
	counted    int64 // content's tokens, when an in-process gateway said (else -1)
	remaining  int64 // -1 when the response said nothing
	limit      int64 // -1 when unknown
	retryAfter time.Duration
}

// newTransport returns a transport for many connections to one host,
// sourcing connections from laddr when not empty (a 127.0.0.x egress IP).
// Plain-HTTP requests go through an h1.Transport unless maxConns caps the
// connections (requests then queue for one in http.Transport, as a pooled
// SDK's do); https and proxied ones through http.Transport.
func newTransport(laddr string, maxConns int) http.RoundTripper {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if laddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(laddr)}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone() // HTTPS_PROXY etc. apply; loopback is never proxied
	tr.DialContext = d.DialContext
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = maxIdlePerHost
	tr.MaxConnsPerHost = maxConns
	if maxConns > 0 {
		return tr
	}
	return h1.New(tr, h1.Options{Dialer: d, MaxIdle: maxIdlePerHost, IdleTimeout: tr.IdleConnTimeout, RawReads: true})
}

// maxIdlePerHost is how many idle connections a transport keeps per host.
const maxIdlePerHost = 4096

// callerHeaders sets the headers of c's attempt n, over HTTP or in
// process: its credentials, its user's id where the persona sends one,
// and the scenario, persona and attempt.
func (e *engine) callerHeaders(h interface{ Set(name, value string) }, c *call, n int) {
	if c.sub.Key != "" {
		h.Set(e.opts.Target.KeyHeader, c.sub.Key)
	}
	if c.bearer != "" {
		h.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.p.UserHeader != "" {
		h.Set(c.p.UserHeader, c.userID)
	}
	h.Set(HeaderScenario, e.opts.Scenario)
	h.Set(HeaderPersona, c.p.Name)
	h.Set(HeaderAttempt, strconv.Itoa(n))
}

// do sends one attempt and fills a's status and timings. An attempt that
// cannot even be built counts as sent and failed (status 0), as a transport
// error does.
func (e *engine) do(ctx context.Context, c *call, msgs []message, maxTokens int64, a *attempt, n int) reply {
	if e.opts.Gateway != nil {
		return e.doCall(c, msgs, maxTokens, a, n)
	}
	r := reply{remaining: -1, limit: -1, counted: -1}
	if e.opts.Clock == nil { // a virtual run has no wall-clock timeouts
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.opts.Target.Timeout.D())
		defer cancel()
	}
	resp, err := e.send(ctx, c, msgs, maxTokens, a, n)
	if err != nil {
		a.latency = e.since(a.sent)
		return r
	}
	a.ttft = e.since(a.sent)
	e.readAnswer(resp, c.p.API, a, &r)
	return r
}

// chatRequest is the body of c's attempt: the typed request the gateway
// decodes (chat.Request), streamed with a usage chunk when the persona
// streams. It is appended field by field rather than marshalled: the
// bytes are those json.Marshal gives for the chat.Request, at a fifth of
// its CPU, which at thousands of requests a second is a visible share of
// the load generator's own.
func chatRequest(c *call, msgs []message, maxTokens int64) []byte {
	size := 96 + len(c.model) + len(c.userID)
	for _, m := range msgs {
		size += 32 + len(m.Role) + len(m.Content)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"model":`...)
	b = appendJSONString(b, c.model)
	b = append(b, `,"messages":[`...)
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"role":`...)
		b = appendJSONString(b, m.Role)
		b = append(b, `,"content":`...)
		b = appendJSONString(b, m.Content)
		b = append(b, '}')
	}
	b = append(b, `],"max_tokens":`...)
	b = strconv.AppendInt(b, maxTokens, 10)
	if c.p.Stream {
		b = append(b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	if c.userID != "" {
		b = append(b, `,"user":`...)
		b = appendJSONString(b, c.userID)
	}
	return append(b, '}')
}

// appendJSONString appends s as json.Marshal encodes it: as is between
// quotes when no byte of it needs escaping (the filler texts), else
// through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// send posts c's attempt n and returns the response (headers read, body
// not). The attempt counts as sent when it has a connection: time spent
// queued for one (max_connections) is the caller's delay, not the
// server's, and shows as schedule lag and in the corrected latency.
func (e *engine) send(ctx context.Context, c *call, msgs []message, maxTokens int64, a *attempt, n int) (*http.Response, error) {
	sent := false
	markSent := func(at time.Time) {
		if !sent {
			sent = true
			a.sent = at
			e.collect(c, func(col *collector) { col.send(a, e.opts.LateThreshold) })
		}
	}
	before := e.tb.now()
	defer markSent(before) // no connection was obtained, or a transport without traces
	body, err := requestBody(c, msgs, maxTokens)
	if err != nil {
		return nil, err
	}
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { markSent(e.tb.now()) }}
	hr, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, e.endpoint(c.model, c.p.API), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept-Encoding", "gzip") // as http.Transport would; read by answerBody
	e.callerHeaders(hr.Header, c, n)
	return c.client.Do(hr)
}

// readAnswer reads a response's body (a stream or a whole answer of op), its
// status, limit headers and Retry-After, and closes it.
func (e *engine) readAnswer(resp *http.Response, op string, a *attempt, r *reply) {
	defer resp.Body.Close()
	e.limitHeaders(resp.Header, r)
	a.utilization = utilizationOf(resp.Header)
	body := answerBody(resp)
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		err := readStreamSince(body, a, r, e.since)
		a.latency = e.since(a.sent)
		if err == nil {
			a.status = resp.StatusCode
		}
		return
	}
	data, err := io.ReadAll(body)
	a.latency = e.since(a.sent)
	if err != nil {
		return
	}
	a.status = resp.StatusCode
	switch resp.StatusCode {
	case http.StatusOK:
		parseAnswer(op, data, a, r)
	case http.StatusTooManyRequests:
		r.retryAfter, a.retryAfter = retryAfter(resp.Header, e.opts.Target.RetryAfterHeader, e.tb.now())
		if !a.retryAfter {
			r.retryAfter, a.retryAfter = retryAfterBody(data, r.retryAfter)
		}
	}
}

// answerBody is resp's body, decompressed when the server sent it
// gzipped: the load generator asks for gzip itself (as http.Transport does
// when a caller does not), so no transport undoes it.
func answerBody(resp *http.Response) io.Reader {
	if resp.Uncompressed || !strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		return resp.Body
	}
	return &gzipBody{body: resp.Body}
}

// gzipBody decompresses a body from its first Read.
type gzipBody struct {
	body io.Reader
	zr   *gzip.Reader
	err  error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.zr == nil && g.err == nil {
		g.zr, g.err = gzip.NewReader(g.body)
	}
	if g.err != nil {
		return 0, g.err
	}
	return g.zr.Read(p)
}

// limitHeaders reads the remaining-tokens and limit headers.
func (e *engine) limitHeaders(h getter, r *reply) {
	r.remaining = headerInt(h, e.opts.Target.RemainingTokensHeader)
	r.limit = headerInt(h, e.opts.Target.LimitTokensHeader)
}

// retryAfter returns how long a 429 asks to wait and whether it said so:
// retry-after-ms (milliseconds, Azure OpenAI), else the named header in
// seconds or as an HTTP date; 1 s when neither is there or readable.
func retryAfter(h getter, name string, now time.Time) (time.Duration, bool) {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms >= 0 {
		return time.Duration(ms * float64(time.Millisecond)), true
	}
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return time.Second, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return time.Second, true
}

// retryAfterBody reads the wait a 429's body names when no header did:
// API Management's { "statusCode": 429, "message": "Token limit is
// exceeded. Try again in 41 seconds." } (the header may have been renamed
// by retry-after-header-name), or an OpenAI-style error's message ("Please
// retry after 6 seconds."). It returns def, false when the body names none.
func retryAfterBody(data []byte, def time.Duration) (time.Duration, bool) {
	var b struct {
		Message string `json:"message"`
		Error   struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &b) != nil {
		return def, false
	}
	if b.Message != "" {
		return retryAfterText(b.Message, def)
	}
	return retryAfterText(b.Error.Message, def)
}

// waitText matches a wait in words: "Try again in 21 minutes and 33
// seconds", "retry after 6 seconds".
var waitText = regexp.MustCompile(`(?i)(?:try again in|retry after) ((?:\d+ (?:days?|hours?|minutes?|seconds?)(?:, | and )?)+)`)

// waitPart is one "<n> <unit>" of a wait in words.
var waitPart = regexp.MustCompile(`(\d+) (day|hour|minute|second)`)

// retryAfterText reads a wait in words from msg; def, false when msg names none.
func retryAfterText(msg string, def time.Duration) (time.Duration, bool) {
	m := waitText.FindStringSubmatch(msg)
	if m == nil {
		return def, false
	}
	unit := map[string]time.Duration{"day": 24 * time.Hour, "hour": time.Hour, "minute": time.Minute, "second": time.Second}
	var d time.Duration
	for _, p := range waitPart.FindAllStringSubmatch(strings.ToLower(m[1]), -1) {
		n, _ := strconv.ParseInt(p[1], 10, 64)
		d += time.Duration(n) * unit[p[2]]
	}
	return d, true
}

// readStream reads a server-sent-events chat completion: the time to the
// first content token becomes the attempt's TTFT, the times between
// content chunks its inter-token latencies, the content is gathered
// and the usage chunk (stream_options.include_usage) gives the token counts;
// without one, completion tokens are estimated from the words received.
func readStream(body io.Reader, a *attempt, r *reply) error {
	return readStreamSince(body, a, r, time.Since)
}

// readStreamSince is readStream with the run's clock (since measures the
// TTFT from a.sent).
func readStreamSince(body io.Reader, a *attempt, r *reply, since func(time.Time) time.Duration) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var content strings.Builder
	first := true
	var last time.Duration // since a.sent, of the latest content chunk
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			break
		}
		var chunk streamEvent
		if json.Unmarshal([]byte(data), &chunk) != nil {
			continue
		}
		text, u := chunk.content()
		content.WriteString(text)
		if text != "" {
			at := since(a.sent)
			if first {
				first, a.ttft = false, at
			} else {
				a.gaps = append(a.gaps, at-last)
			}
			last = at
		}
		if u != nil {
			a.usage = *u
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read stream: %w", err)
	}
	// read to the end, as SDKs do: the server finishes its response and
	// the connection is reused rather than torn down
	_, _ = io.Copy(io.Discard, body)
	r.content = content.String()
	if a.usage.CompletionTokens == 0 {
		a.usage.CompletionTokens = int64(len(strings.Fields(r.content)))
	}
	a.streamed = true
	return nil
}

// getter reads a header: an http.Header, or an in-process answer's.
type getter interface{ Get(name string) string }

var (
	_ getter = http.Header{}
	_ getter = chat.Header{}
)

// utilizationOf reads HeaderUtilization in percent ("42.5%" or "42.5"),
// -1 when absent or unreadable.
func utilizationOf(h getter) float64 {
	v := h.Get(HeaderUtilization)
	if v == "" {
		return -1 // the usual case: no parse, no error to allocate
	}
	v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "%"))
	u, err := strconv.ParseFloat(v, 64)
	if err != nil || !(u >= 0) || math.IsInf(u, 0) {
		return -1
	}
	return u
}

func headerInt(h getter, name string) int64 {
	s := h.Get(name)
	if s == "" {
		return -1
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// endpoint is the URL of op's requests for model.
func (e *engine) endpoint(model, op string) string {
	k := endpointKey{model, op}
	if u, ok := e.urls.Load(k); ok {
		return u.(string)
	}
	u := e.opts.Target.opEndpoint(model, op)
	e.urls.Store(k, u)
	return u
}

// endpointKey names an endpoint URL in engine.urls.
type endpointKey struct{ model, op string }

// PromptText returns filler text of about n tokens under the o200k and
// cl100k encodings (common one-token words).
func PromptText(n int64) string { return promptWords.Text(n) }

// promptWords are the words of PromptText, in order.
var promptWords = chat.Filler{"please", "summarize", "the", "following", "report", "about", "quarterly", "sales", "and", "costs"}

// egressIP returns the i-th loopback source address handed to nat users
// (127.0.0.2, 127.0.0.3, …).
func egressIP(i int) string { return fmt.Sprintf("127.0.%d.%d", (i+2)/256, (i+2)%256) }
