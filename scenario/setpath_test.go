package scenario

import (
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

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
		out, err := ApplySettings(src, sets)
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
