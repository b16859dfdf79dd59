package redisstore_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/store"
	"github.com/aiload/aiload/gateway/store/redisstore"
	"github.com/aiload/aiload/gateway/store/redisstore/redistest"
	"github.com/aiload/aiload/record"
)

const sharedLimit = 20000 // tokens per minute of the one subscription

func clusterConfig() gateway.Config {
	return gateway.Config{
		Products: []gateway.Product{{Name: "std", TokenLimits: []gateway.TokenLimit{
			{CounterKey: "subscription", TokensPerMinute: sharedLimit, Mode: "strict"},
		}}},
		Subscriptions: []gateway.Subscription{{ID: "s1", Key: "k1", Product: "std", Team: "a"}},
	}
}

// admitted drives three gateway instances with 240 requests from 8
// concurrent clients (round robin over the instances) and returns the
// tokens served and the number of 429s. The run lasts a few seconds, far
// inside one 60 s window, so the served total is the most any window holds.
func admitted(t *testing.T, stores [3]store.Store, backend string) (tokens int64, throttled int) {
	t.Helper()
	var mu sync.Mutex
	sink := record.SinkFunc(func(r *record.Record) error {
		mu.Lock()
		defer mu.Unlock()
		if r.Outcome == record.OutcomeOK {
			tokens += r.TotalTokens
		}
		if r.Status == http.StatusTooManyRequests {
			throttled++
		}
		return nil
	})
	var urls [3]string
	for i := range stores {
		cfg := clusterConfig()
		cfg.ID = fmt.Sprintf("gw-%d", i+1)
		gw, err := gateway.New(cfg, backend, gateway.Options{Sink: sink, Store: stores[i]})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(gw)
		t.Cleanup(srv.Close)
		urls[i] = srv.URL
	}
	body, _ := json.Marshal(map[string]any{
		"model":      "gpt-4o-mini",
		"messages":   []map[string]string{{"role": "user", "content": mockllm.Text(200)}},
		"max_tokens": 100,
	})
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := range 30 {
				url := urls[(c+i)%3] + "/v1/chat/completions"
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("api-key", "k1")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	return tokens, throttled
}

// TestThreeGatewaysShareOneLimit: three instances sharing one real Redis
// hold a strict tokens-per-minute limit together, as one instance would;
// with separate in-memory counters each admits its own limit.
func TestThreeGatewaysShareOneLimit(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	mock := httptest.NewServer(mockllm.New(mockllm.Config{Seed: 1, MinFraction: 1}))
	t.Cleanup(mock.Close)

	var shared [3]store.Store
	for i := range shared {
		s, err := redisstore.New(redis.NewClient(&redis.Options{Addr: srv.Addr}), redisstore.Options{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		shared[i] = s
	}
	tokens, throttled := admitted(t, shared, mock.URL)
	t.Logf("shared Redis: %d tokens admitted, %d 429s (limit %d)", tokens, throttled, sharedLimit)
	if tokens > sharedLimit || throttled == 0 {
		t.Fatalf("shared Redis: %d tokens admitted with %d 429s; want at most %d and some 429s", tokens, throttled, sharedLimit)
	}
	if tokens < sharedLimit*8/10 {
		t.Fatalf("shared Redis: only %d tokens admitted of a %d limit", tokens, sharedLimit)
	}

	separate := [3]store.Store{store.NewMemory(), store.NewMemory(), store.NewMemory()}
	tokens, throttled = admitted(t, separate, mock.URL)
	t.Logf("separate memory stores: %d tokens admitted, %d 429s", tokens, throttled)
	if tokens <= sharedLimit*2 {
		t.Fatalf("separate memory stores: %d tokens admitted; want each instance to admit its own limit (> %d)", tokens, 2*sharedLimit)
	}
}
