package gateway_test

import (
	"strings"
	"testing"

	"github.com/aiload/aiload/gateway"
)

func TestBackendAuthValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		backend gateway.Backend
		want    string // "" means valid
	}{
		// the old spelling still works
		{"api-key spelling", gateway.Backend{Auth: "api-key", APIKeyEnv: "K"}, ""},
		{"managed identity, user-assigned", gateway.Backend{Auth: "managed_identity", ClientID: "c"}, ""},
		{"client credentials", gateway.Backend{Auth: "client_credentials", TenantID: "t", ClientID: "c", SecretFile: "/s"}, ""},
		{"two key sources", gateway.Backend{APIKey: "k", APIKeyEnv: "K"}, "set one of api_key, api_key_env and api_key_file"},
		{"a key with a token auth", gateway.Backend{Auth: "managed_identity", APIKey: "k"}, "remove api_key"},
		{"managed identity with a secret", gateway.Backend{Auth: "managed_identity", SecretEnv: "S"}, "managed_identity takes only client_id"},
		{"client credentials without tenant", gateway.Backend{Auth: "client_credentials", ClientID: "c", SecretEnv: "S"}, "tenant_id: must be set"},
		{"client credentials without secret", gateway.Backend{Auth: "client_credentials", TenantID: "t", ClientID: "c"}, "one of secret_env and secret_file"},
		{"client id with a key", gateway.Backend{APIKey: "k", ClientID: "c"}, "need auth managed_identity or client_credentials"},
		{"unknown auth", gateway.Backend{Auth: "kerberos"}, `must be api_key, bearer, managed_identity or client_credentials, got "kerberos"`},
	} {
		cfg := gateway.Config{Subscriptions: []gateway.Subscription{{ID: "s", Key: "k1"}}, Backends: []gateway.Backend{c.backend}}
		cfg.Defaults()
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want valid", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestMissingKeySourceStopsStart(t *testing.T) {
	t.Parallel()
	cfg := gateway.Config{Subscriptions: []gateway.Subscription{{ID: "s", Key: "k1"}},
		Backends: []gateway.Backend{{Name: "east", URL: "http://127.0.0.1:9", APIKeyFile: "/nonexistent/aiload-key"}}}
	_, err := gateway.New(cfg, "", gateway.Options{Sink: &sink{}})
	if err == nil || !strings.Contains(err.Error(), `backend "east": api key: read /nonexistent/aiload-key`) {
		t.Fatalf("error %v, want the backend and the file named", err)
	}
}
