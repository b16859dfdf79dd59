package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestGzipAnswer: the load generator asks for gzip and reads a gzipped
// answer's usage, whichever transport carried it.
func TestGzipAnswer(t *testing.T) {
	t.Parallel()
	for _, maxConns := range []int{0, 2} { // h1.Transport, http.Transport
		var asked atomic.Int64
		url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				http.Error(w, "gzip only", http.StatusBadRequest)
				return
			}
			asked.Add(1)
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = io.WriteString(zw, `{"choices":[{"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":7,"completion_tokens":3}}`)
			_ = zw.Close()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(b.Bytes())
		}))
		p := persona(KindChat, func(p *Persona) { p.Rate = 20; p.Arrival = ArrivalConstant })
		res, err := Run(context.Background(), Options{Scenario: "test", Duration: 300 * time.Millisecond, Seed: 1, Model: "m",
			Target: Target{URL: url, MaxConnections: maxConns}, Personas: []Persona{p}, Drain: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s := res.Personas[0]
		if s.OK == 0 || s.OK != s.Sent || s.OK != asked.Load() || s.PromptTokens != 7*s.OK || s.CompletionTokens != 3*s.OK {
			t.Errorf("max_connections %d: sent %d, ok %d (%d gzipped), tokens %d + %d; want every attempt ok with 7 + 3 tokens",
				maxConns, s.Sent, s.OK, asked.Load(), s.PromptTokens, s.CompletionTokens)
		}
	}
}
