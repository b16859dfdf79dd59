package runner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aiload/aiload/gateway"
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
}

func startMocks(sc *scenario.Scenario) (*mockSet, error) {
	cfg := sc.Gateway
	cfg.Backends = append(cfg.Backends[:0:0], cfg.Backends...)
	cfg.Defaults()
	ms := &mockSet{urls: map[string]string{}}
	shared := false
	for i, b := range cfg.Backends {
		switch {
		case b.URL != "":
		case b.Mock != nil:
			url, err := ms.start(backendMock(sc, *b.Mock, uint64(i)))
			if err != nil {
				ms.close()
				return nil, err
			}
			ms.urls[b.Name] = url
		default:
			shared = true
		}
	}
	if shared {
		url, err := ms.start(mockConfig(sc))
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
		c.PerTokenDelay = base.PerTokenDelay
	}
	if c.MinFraction == 0 {
		c.MinFraction = base.MinFraction
	}
	if c.Seed == 0 {
		c.Seed = sc.Seed + i + 1
	}
	return c
}

func (ms *mockSet) start(c mockllm.Config) (string, error) {
	m := mockllm.New(c)
	srv, err := serve(m)
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
	return strings.Join(parts, ", ")
}

func (ms *mockSet) close() {
	for _, s := range ms.servers {
		s.close()
	}
}
