package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestRunKeyless: the keyless scenario runs end to end offline with
// managed-identity backends (tokens from the mock identity endpoint, checked
// by the mock backends); every call is answered and recorded as
// managed_identity, and no token appears in any file of the run or in the output.
func TestRunKeyless(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, stdout, stderr := execute(t, "run", "../../scenarios/keyless.yaml", "--duration", "4s", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*", "tokens.jsonl"))
	if len(logs) != 1 {
		t.Fatalf("token logs %v, want one", logs)
	}
	f, err := os.Open(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var r struct {
			Status      int    `json:"status"`
			BackendAuth string `json:"backend_auth"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Status != 200 || r.BackendAuth != "managed_identity" {
			t.Errorf("record %d: status %d backend_auth %q, want 200 managed_identity", n, r.Status, r.BackendAuth)
		}
	}
	if n == 0 {
		t.Fatal("no records")
	}
	// The mock's tokens are RS256 JWTs: their header always encodes to this prefix.
	const jwtPrefix = "eyJhbGciOiJSUzI1NiIs"
	if bytes.Contains([]byte(stdout+stderr), []byte(jwtPrefix)) {
		t.Errorf("a token is in the output")
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(jwtPrefix)) {
			t.Errorf("a token is in %s", path)
		}
		return nil
	})
}

// A scenario whose backend holds a literal key validates, with a warning
// that names the field and not the key.
func TestValidateWarnsLiteralKey(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../../scenarios/keyless.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "literal.yaml")
	lit := bytes.Replace(src, []byte("auth: managed_identity "), []byte("api_key: sk-lit-99 "), 1)
	if err := os.WriteFile(path, lit, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := execute(t, "validate", path)
	want := "warning: gateway.backends[0].api_key: a literal key is stored in the config"
	if code != 0 || !bytes.Contains([]byte(stdout), []byte(want)) || bytes.Contains([]byte(stdout+stderr), []byte("sk-lit-99")) {
		t.Fatalf("exit %d stdout %q stderr %q; want %q and no key", code, stdout, stderr, want)
	}
}
