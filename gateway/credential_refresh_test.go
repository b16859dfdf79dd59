package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/mockidentity"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/record"
)

// Tokens that live 3 s (the mock asks for a refresh after half of it) are refreshed in the background while traffic
// flows: every request is answered, and only the first one waited for a token.
func TestManagedIdentityTokensRefreshAhead(t *testing.T) {
	t.Parallel()
	id, err := mockidentity.New(mockidentity.Config{TokenLifetime: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	idSrv := httptest.NewServer(id)
	defer idSrv.Close()
	backend := httptest.NewServer(id.Require(mockllm.New(mockllm.Config{Seed: 1})))
	defer backend.Close()
	cfg := Config{
		Identity:      &Identity{Endpoint: idSrv.URL},
		Subscriptions: []Subscription{{ID: "s1", Key: "k1"}},
		Backends: []Backend{{Name: "b", URL: backend.URL, Auth: AuthManagedIdentity,
			ClientID: "refresh-test"}}, // its own token cache entry: the SDK's is process-wide
	}
	g, err := New(cfg, "", Options{Sink: record.SinkFunc(func(*record.Record) error { return nil })})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	statuses := map[int]int{}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Ocp-Apim-Subscription-Key", "k1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if len(statuses) != 1 || statuses[http.StatusOK] == 0 {
		t.Errorf("statuses %v, want only 200", statuses)
	}
	if n := id.Issued(); n < 3 {
		t.Errorf("%d tokens issued in 5 s of 3 s tokens, want >= 3 (refreshes)", n)
	}
	if w := g.pool.members[0].cred.(*tokenCache).waits.Load(); w != 1 {
		t.Errorf("%d requests waited for a token, want 1 (the first)", w)
	}
}
