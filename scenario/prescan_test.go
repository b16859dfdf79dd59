package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileInputRefusedBeforeParsing: deep nesting under an x- key, an
// oversized file, and files that are devices or pipes come back as
// positioned errors at once instead of taking seconds and gigabytes.
func TestHostileInputRefusedBeforeParsing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// 200 KB of nested brackets: the parser alone ran out of memory.
	deep := write("deep.yaml", "x-a: "+strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)+"\n"+validSrc)
	big := write("big.yaml", validSrc+"x-pad: ["+strings.Repeat("1, ", MaxFileBytes/3)+"1]\n")
	gwDev := write("gwdev.yaml", strings.Replace(validSrc, "gateway:\n", "gateway: /dev/zero\nx-gw:\n", 1))
	csvDev := write("csvdev.yaml", strings.Replace(validSrc, "prompt_tokens: 100", "prompt_tokens: {dist: empirical, file: /dev/zero}", 1))
	for _, tc := range []struct {
		path, want string
	}{
		{deep, "deep.yaml:1:69: nested more than 64 levels deep"},
		{big, "big.yaml: read scenario: larger than the limit of 1 MiB"},
		{"/dev/zero", "/dev/zero: read scenario: not a regular file (a device)"},
		{dir, "read scenario: not a regular file (a directory)"},
		{gwDev, "gwdev.yaml:3:10: gateway: read gateway config: not a regular file (a device)"},
		{csvDev, "csvdev.yaml:19:20: personas[0].prompt_tokens: read empirical lengths: read /dev/zero: not a regular file (a device)"},
	} {
		_, err := Load(tc.path)
		var es Errors
		if !errors.As(err, &es) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s): got %v, want Errors with %q", filepath.Base(tc.path), err, tc.want)
		}
	}
}

// TestRepositoryScenariosPassThePreScan: every YAML file of the repository
// (scenarios, gateway configs, test data) is within the input limits.
func TestRepositoryScenariosPassThePreScan(t *testing.T) {
	t.Parallel()
	n := 0
	err := filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if e := checkInput(p, src); e != nil {
			t.Errorf("%v", e)
		}
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("walk: %v (%d files)", err, n)
	}
}
