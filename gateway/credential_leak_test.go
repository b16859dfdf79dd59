package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway"
)

// TestCredentialsNeverLeak: keys, client secrets and tokens appear in no
// record, log line, metric or error body, whether the backend call worked
// (managed identity), the backend refused the credential (a key where a
// token is needed) or the token request failed (a wrong client secret).
func TestCredentialsNeverLeak(t *testing.T) {
	t.Parallel()
	_, idURL, backendURL := identityEnv(t, time.Hour)
	const key, wrongSecret = "sk-literal-key-7f3a91", "wrong-secret-c0ffee"
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(wrongSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logs bytes.Buffer
	logf := func(f string, a ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(&logs, f+"\n", a...)
	}
	s := &sink{}
	var bodies, metrics []string
	for _, c := range []struct {
		backend string
		status  int
	}{
		// a token from the identity endpoint: answered
		{"auth: managed_identity", http.StatusOK},
		// a key where the backend wants a token: its 401 is relayed
		{"api_key: " + key, http.StatusUnauthorized},
		// the identity endpoint refuses the secret: 502, the cause in the log
		{"auth: client_credentials, tenant_id: t1, client_id: app-1, secret_file: " + secretFile, http.StatusBadGateway},
	} {
		var cfg gateway.Config
		cfgYAML := keylessConfig(idURL, "    url: "+backendURL+"\n    "+strings.ReplaceAll(c.backend, ", ", "\n    ")+"\n")
		if err := yaml.UnmarshalWithOptions([]byte(cfgYAML), &cfg, yaml.Strict()); err != nil {
			t.Fatal(err)
		}
		gw, err := gateway.New(cfg, "", gateway.Options{Sink: s, Logf: logf})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(gw)
		a := post(t, srv.URL, chatPath, "k1", chatBody(5), nil)
		srv.Close()
		if a.status != c.status {
			t.Errorf("%s: status %d, want %d; body %s", c.backend, a.status, c.status, a.body)
		}
		bodies = append(bodies, string(a.body))
		rec := httptest.NewRecorder()
		gw.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		metrics = append(metrics, string(b))
	}
	var recs []string
	auths := map[string]bool{}
	for _, r := range s.all() {
		recs = append(recs, recordJSON(r))
		auths[r.BackendAuth] = true
	}
	for _, want := range []string{"managed_identity", "api_key", "client_credentials"} {
		if !auths[want] {
			t.Errorf("no record with backend_auth %s: %v", want, auths)
		}
	}
	if !strings.Contains(logs.String(), "get client_credentials token") {
		t.Errorf("the log does not say the token request failed:\n%s", logs.String())
	}
	for what, text := range map[string]string{
		"records": strings.Join(recs, "\n"), "log": logs.String(),
		"metrics": strings.Join(metrics, "\n"), "error bodies": strings.Join(bodies, "\n"),
	} {
		for _, secret := range []string{key, wrongSecret, "eyJhbGciOiJSUzI1NiIs"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contain %q:\n%s", what, secret, text)
			}
		}
	}
}
