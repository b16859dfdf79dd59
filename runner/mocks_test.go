package runner

import (
	"slices"
	"testing"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/scenario"
)

// TestStartMocks: one embedded mock per backend with `mock:` and no url,
// one shared mock for backends with neither, none for backends with a url.
func TestStartMocks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		backends     []gateway.Backend
		mocks        int
		withFallback bool
	}{
		{"single backend of older configs", nil, 1, true},
		{"ptu and payg mocks", []gateway.Backend{{Name: "ptu", Mock: &mockllm.Config{PTUTPM: 1000}}, {Name: "payg", Mock: &mockllm.Config{}}}, 2, false},
		{"external url and a bare backend", []gateway.Backend{{Name: "ext", URL: "http://127.0.0.1:9"}, {Name: "bare"}}, 1, true},
	} {
		sc := &scenario.Scenario{Seed: 3, Gateway: gateway.Config{Backends: tc.backends}}
		ms, err := startMocks(sc)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(ms.mocks) != tc.mocks || (ms.fallback != "") != tc.withFallback {
			t.Errorf("%s: %d mocks, fallback %q; want %d mocks, fallback %v", tc.name, len(ms.mocks), ms.fallback, tc.mocks, tc.withFallback)
		}
		for _, b := range tc.backends {
			if _, ok := ms.urls[b.Name]; ok != (b.Mock != nil && b.URL == "") {
				t.Errorf("%s: backend %s has embedded mock %v", tc.name, b.Name, ok)
			}
		}
		if len(tc.backends) > 0 && tc.backends[0].Name != "" && sc.Gateway.Backends[0].Tier != "" {
			t.Errorf("%s: startMocks changed the scenario's backends", tc.name)
		}
		ms.close()
	}
}

// TestEmbeddedConfig: mock-served backends serve the scenario's models
// only; backends with a url or their own deployments are left alone.
func TestEmbeddedConfig(t *testing.T) {
	t.Parallel()
	sc := &scenario.Scenario{Model: "gpt-4o-mini",
		Personas: []loadgen.Persona{{Name: "a"}, {Name: "b", Model: "gpt-4o"}},
		Gateway: gateway.Config{Backends: []gateway.Backend{
			{Name: "mock", Mock: &mockllm.Config{}},
			{Name: "ext", URL: "http://127.0.0.1:9"},
			{Name: "own", Mock: &mockllm.Config{}, Deployments: []string{"x"}},
		}}}
	got := embeddedConfig(sc)
	want := [][]string{{"gpt-4o-mini", "gpt-4o"}, nil, {"x"}}
	for i, b := range got.Backends {
		if !slices.Equal(b.Deployments, want[i]) {
			t.Errorf("backend %s deployments %v, want %v", b.Name, b.Deployments, want[i])
		}
	}
	if sc.Gateway.Backends[0].Deployments != nil {
		t.Errorf("the scenario's config was changed")
	}
	legacy := embeddedConfig(&scenario.Scenario{Model: "m"})
	if len(legacy.Backends) != 1 || legacy.Backends[0].Name != "mock" || !slices.Equal(legacy.Backends[0].Deployments, []string{"m"}) {
		t.Errorf("single backend of older configs: %+v", legacy.Backends)
	}
}
