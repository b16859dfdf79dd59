package runner

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// TestSweepLimits: raising the research team's limit tenfold removes its
// 429s and leaves the other teams' traffic as it was.
func TestSweepLimits(t *testing.T) {
	t.Parallel()
	vs, err := Sweep(context.Background(), SweepOptions{Scenario: "../scenarios/quickstart.yaml",
		Sets: []string{"gateway.products.developer.tokens_per_minute=10000,100000"}, Duration: 20 * time.Second})
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if len(vs) != 2 {
		t.Fatalf("%d variants, want 2", len(vs))
	}
	tight, loose := vs[0].Teams["research"], vs[1].Teams["research"]
	if tight == nil || loose == nil || tight.Throttled == 0 || loose.Throttled != 0 {
		t.Fatalf("research 429s at 10000 TPM: %+v, at 100000 TPM: %+v; want some, then none", tight, loose)
	}
	// Completion lengths come from the mock's one random stream, in arrival
	// order, so research's extra answers shift support's tokens a little;
	// its requests and 429s do not move.
	if s0, s1 := vs[0].Teams["support"], vs[1].Teams["support"]; s0.Requests != s1.Requests || s0.Throttled != s1.Throttled {
		t.Errorf("support changed with research's limit: %+v vs %+v", s0, s1)
	}
	var out bytes.Buffer
	if err := WriteSweepTable(&out, vs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gateway.products.developer.tokens_per_minute", "429 research", "10000", "100000"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestApplySettings: --set paths address mapping keys, list items by name
// and by index, and create missing keys; bad paths say what exists.
func TestApplySettings(t *testing.T) {
	t.Parallel()
	src := []byte("duration: 60s\npersonas:\n  - name: batch\n    at: 5s\n  - name: chat\ngateway:\n  backends:\n    - name: ptu\n      mock: {ptu_tpm: 1000}\n")
	for _, c := range []struct {
		set, want string // want: a fragment of the result, or of the error
		fail      bool
	}{
		{"personas.batch.at=9h", "at: 9h", false},                                           // list item by name
		{"personas.1.rate=3/min", "rate: 3/min", false},                                     // by index, new key
		{"gateway.backends.ptu.mock.ptu_tpm=45000", "ptu_tpm: 45000", false},                // nested
		{"duration=2m", "duration: 2m", false},                                              // top level
		{"personas.nightly.at=1h", `no list item named "nightly" (have batch, chat)`, true}, // unknown name
	} {
		sets, err := ParseSet(c.set)
		if err != nil {
			t.Fatalf("ParseSet(%q): %v", c.set, err)
		}
		out, err := applySettings(src, sets)
		switch {
		case c.fail && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("--set %s: error %v, want one containing %q", c.set, err, c.want)
		case !c.fail && err != nil:
			t.Errorf("--set %s: %v", c.set, err)
		case !c.fail && !strings.Contains(string(out), c.want):
			t.Errorf("--set %s: result lacks %q:\n%s", c.set, c.want, out)
		}
		if !c.fail {
			var doc map[string]any
			if err := yaml.Unmarshal(out, &doc); err != nil {
				t.Errorf("--set %s: result is not YAML: %v", c.set, err)
			}
		}
	}
}
