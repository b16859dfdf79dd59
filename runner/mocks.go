package runner

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockidentity"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/scenario"
)

// mockSet is the embedded mock backends of a run: one per configured
// backend that has `mock:` and no url, plus one shared mock (the scenario's
// top-level `mock:`) for backends with neither.
type mockSet struct {
	urls     map[string]string // backend name → URL
	fallback string            // the shared mock's URL, if started
	mocks    []*mockllm.Server
	servers  []*server
	// identity is the built-in mock identity endpoint (gateway.identity.mock).
	identity    *mockidentity.Server
	identityURL string
}

func startMocks(sc *scenario.Scenario) (*mockSet, error) {
	cfg := sc.Gateway
	cfg.Backends = append(cfg.Backends[:0:0], cfg.Backends...)
	cfg.Defaults()
	ms := &mockSet{urls: map[string]string{}}
	if err := ms.startIdentity(cfg.Identity); err != nil {
		return nil, err
	}
	shared, sharedTokens := false, true
	for i, b := range cfg.Backends {
		switch {
		case b.URL != "":
		case b.Mock != nil:
			url, err := ms.start(backendMock(sc, *b.Mock, uint64(i)), gateway.TokenAuth(b))
			if err != nil {
				ms.close()
				return nil, err
			}
			ms.urls[b.Name] = url
		default:
			shared, sharedTokens = true, sharedTokens && gateway.TokenAuth(b)
		}
	}
	if shared {
		url, err := ms.start(mockConfig(sc), sharedTokens)
		if err != nil {
			ms.close()
			return nil, err
		}
		ms.fallback = url
	}
	return ms, nil
}

// embeddedConfig is the scenario's gateway config for a run on embedded
// mocks: backends served by a mock (no url) and given no deployments serve
// the models the scenario uses, so a request for any other deployment gets
// 404 from the gateway, as from a real Azure OpenAI resource.
func embeddedConfig(sc *scenario.Scenario) gateway.Config {
	cfg := sc.Gateway
	cfg.Backends = append(cfg.Backends[:0:0], cfg.Backends...)
	cfg.Defaults()
	models := []string{sc.Model}
	for _, p := range sc.Personas {
		if p.Model != "" && !slices.Contains(models, p.Model) {
			models = append(models, p.Model)
		}
	}
	for i, b := range cfg.Backends {
		if b.URL == "" && len(b.Deployments) == 0 {
			cfg.Backends[i].Deployments = models
		}
	}
	return cfg
}

// backendMock is a backend's mock config; latency left unset comes from the
// scenario's top-level mock, and each mock gets its own seed.
func backendMock(sc *scenario.Scenario, c mockllm.Config, i uint64) mockllm.Config {
	base := mockConfig(sc)
	if c.FirstTokenDelay == 0 {
		c.FirstTokenDelay = base.FirstTokenDelay
	}
	if c.PerTokenDelay == 0 {
		c.PerTokenDelay, c.PerTokenDelayP95 = base.PerTokenDelay, max(c.PerTokenDelayP95, base.PerTokenDelayP95)
	}
	if c.MinFraction == 0 {
		c.MinFraction = base.MinFraction
	}
	if c.Seed == 0 {
		c.Seed = sc.Seed + i + 1
	}
	return c
}

// start serves a mock backend; with guarded and a mock identity endpoint
// running, it answers only requests with that endpoint's tokens.
func (ms *mockSet) start(c mockllm.Config, guarded bool) (string, error) {
	m := mockllm.New(c)
	var h http.Handler = m
	if guarded && ms.identity != nil {
		h = ms.identity.Require(m)
	}
	srv, err := serve(h)
	if err != nil {
		return "", err
	}
	ms.mocks = append(ms.mocks, m)
	ms.servers = append(ms.servers, srv)
	return srv.url, nil
}

// served sums the tokens every mock served, by persona.
func (ms *mockSet) served() map[string]mockllm.Usage {
	out := map[string]mockllm.Usage{}
	for _, m := range ms.mocks {
		for p, u := range m.Served() {
			t := out[p]
			t.Requests += u.Requests
			t.PromptTokens += u.PromptTokens
			t.CompletionTokens += u.CompletionTokens
			t.TotalTokens += u.TotalTokens
			out[p] = t
		}
	}
	return out
}

// describe lists the mocks' addresses for the start line.
func (ms *mockSet) describe() string {
	var parts []string
	if ms.fallback != "" {
		parts = append(parts, ms.fallback)
	}
	for name, url := range ms.urls {
		parts = append(parts, fmt.Sprintf("%s=%s", name, url))
	}
	if ms.identityURL != "" {
		parts = append(parts, "identity="+ms.identityURL)
	}
	return strings.Join(parts, ", ")
}

func (ms *mockSet) close() {
	for _, s := range ms.servers {
		s.close()
	}
}

// startIdentity starts the mock identity endpoint when id asks for one.
func (ms *mockSet) startIdentity(id *gateway.Identity) error {
	if id == nil || id.Mock == nil {
		return nil
	}
	m, err := mockidentity.New(mockidentity.Config{TokenLifetime: id.Mock.TokenLifetime})
	if err != nil {
		return fmt.Errorf("mock identity endpoint: %w", err)
	}
	srv, err := serve(m)
	if err != nil {
		return fmt.Errorf("mock identity endpoint: %w", err)
	}
	ms.identity, ms.identityURL = m, srv.url
	ms.servers = append(ms.servers, srv)
	return nil
}

// withIdentity points cfg's token requests at the mock identity endpoint, if one runs.
func (ms *mockSet) withIdentity(cfg gateway.Config) gateway.Config {
	if ms.identityURL != "" {
		id := *cfg.Identity
		id.Endpoint = ms.identityURL
		cfg.Identity = &id
	}
	return cfg
}
