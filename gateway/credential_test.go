package gateway_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiload/aiload/gateway/mockidentity"
	"github.com/aiload/aiload/gateway/mockllm"
)

// identityEnv is a mock identity endpoint and a mock backend that only
// answers its tokens.
func identityEnv(t *testing.T, life time.Duration) (*mockidentity.Server, string, string) {
	t.Helper()
	id, err := mockidentity.New(mockidentity.Config{TokenLifetime: life, ClientSecrets: map[string]string{"app-1": "s3cret-value"}})
	if err != nil {
		t.Fatal(err)
	}
	idSrv := httptest.NewServer(id)
	t.Cleanup(idSrv.Close)
	backend := httptest.NewServer(id.Require(mockllm.New(mockllm.Config{Seed: 1})))
	t.Cleanup(backend.Close)
	return id, idSrv.URL, backend.URL
}

func keylessConfig(idURL, backendYAML string) string {
	return `
identity: {endpoint: "` + idURL + `"}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
backends:
  - name: b
` + backendYAML
}

func TestKeylessBackends(t *testing.T) {
	t.Parallel()
	_, idURL, backendURL := identityEnv(t, time.Hour)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, backend string
		status        int
		auth          string
	}{
		// system-assigned managed identity
		{"system-assigned", "    auth: managed_identity\n", 200, "managed_identity"},
		// user-assigned managed identity
		{"user-assigned", "    auth: managed_identity\n    client_id: 11111111-2222-3333-4444-555555555555\n", 200, "managed_identity"},
		// an app registration's secret from a file
		{"client credentials", "    auth: client_credentials\n    tenant_id: 00000000-0000-0000-0000-0000000000a1\n    client_id: app-1\n    secret_file: " + secretFile + "\n", 200, "client_credentials"},
		// a key is no token: the backend answers Azure's 401
		{"api key refused", "    api_key: not-a-token\n", 401, "api_key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := start(t, keylessConfig(idURL, "    url: "+backendURL+"\n"+c.backend), "", nil)
			a := post(t, e.url, chatPath, "k1", chatBody(10), nil)
			if a.status != c.status {
				t.Fatalf("status = %d, want %d; body %s", a.status, c.status, a.body)
			}
			if r := e.sink.last(t); r.BackendAuth != c.auth || r.Status != c.status {
				t.Errorf("record backend_auth=%q status=%d, want %q %d", r.BackendAuth, r.Status, c.auth, c.status)
			}
		})
	}
}

func TestMockBackendRefusesBadTokens(t *testing.T) {
	t.Parallel()
	_, _, backendURL := identityEnv(t, time.Hour)
	expired, _ := mockidentity.New(mockidentity.Config{Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	expiredTok := issueIMDS(t, expired)
	for name, auth := range map[string]string{
		"no token":       "",
		"not a jwt":      "Bearer abc.def.ghi",
		"expired":        "Bearer " + expiredTok,
		"foreign signer": "Bearer " + foreignToken(t),
		"api-key style":  "api-key-value",
		"wrong scheme":   "Basic " + expiredTok,
	} {
		req, _ := http.NewRequest(http.MethodPost, backendURL+chatPath, strings.NewReader(chatBody(5)))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
		}
	}
}

// issueIMDS gets a token from s as IMDS hands one out.
func issueIMDS(t *testing.T, s *mockidentity.Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://cognitiveservices.azure.com", nil)
	req.Header.Set("Metadata", "true")
	s.ServeHTTP(rec, req)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := jsonUnmarshal(rec.Body.Bytes(), &body); err != nil || body.AccessToken == "" {
		t.Fatalf("IMDS answer %d %s: %v", rec.Code, rec.Body, err)
	}
	return body.AccessToken
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// foreignToken is a well-formed token for the right audience signed by another key.
func foreignToken(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"aud": mockidentity.Audience, "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = "aiload-mock-1"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A token for another resource is refused.
func TestMockBackendRefusesOtherAudience(t *testing.T) {
	t.Parallel()
	id, _, _ := identityEnv(t, time.Hour)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metadata/identity/oauth2/token?resource=https://storage.azure.com", nil)
	req.Header.Set("Metadata", "true")
	id.ServeHTTP(rec, req)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if err := id.Verify(body.AccessToken); err == nil || strings.Contains(err.Error(), body.AccessToken) {
		t.Errorf("storage token: %v, want refused without the token in the error", err)
	}
}

// An OpenAI SDK client of a gateway whose backend takes only Entra ID
// tokens gets answers, streamed and not.
func TestKeylessBackendSDKClient(t *testing.T) {
	t.Parallel()
	_, idURL, backendURL := identityEnv(t, time.Hour)
	e := start(t, keylessConfig(idURL, "    url: "+backendURL+"\n    auth: managed_identity\n    client_id: sdk-client-test\n"), "", nil)
	client := openai.NewClient(option.WithBaseURL(e.url+"/v1/"), option.WithAPIKey("k1"), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{
		Model:     "gpt-4o-mini",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello.")},
		MaxTokens: openai.Int(20),
	}
	resp, err := client.Chat.Completions.New(context.Background(), params)
	if err != nil || resp.Choices[0].Message.Content == "" {
		t.Fatalf("completion: %v", err)
	}
	stream := client.Chat.Completions.NewStreaming(context.Background(), params)
	n := 0
	for stream.Next() {
		n++
	}
	if err := stream.Err(); err != nil || n == 0 {
		t.Fatalf("stream: %d chunks, %v", n, err)
	}
}
