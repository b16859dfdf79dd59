package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Backend auth methods (Backend.Auth, record.BackendAuth).
const (
	AuthAPIKey            = "api_key"            // api-key header
	AuthBearer            = "bearer"             // a static key as Authorization: Bearer
	AuthManagedIdentity   = "managed_identity"   // an Entra ID token from IMDS
	AuthClientCredentials = "client_credentials" // an Entra ID token for an app registration
)

// CognitiveServicesScope is the scope of the Entra ID tokens the gateway
// gets for its backends, as API Management's authentication-managed-identity
// with resource https://cognitiveservices.azure.com.
const CognitiveServicesScope = "https://cognitiveservices.azure.com/.default"

// credential puts a backend's credential on a request.
type credential interface {
	apply(ctx context.Context, h http.Header) error
	method() string
}

// staticKey is a key from the config, an environment variable or a file.
type staticKey struct {
	key    string
	bearer bool
}

func (k staticKey) apply(_ context.Context, h http.Header) error {
	if k.key == "" {
		return nil
	}
	if k.bearer {
		h.Set("Authorization", "Bearer "+k.key)
	} else {
		h.Set("api-key", k.key)
	}
	return nil
}

func (k staticKey) method() string {
	if k.bearer {
		return AuthBearer
	}
	return AuthAPIKey
}

// newCredential builds b's credential; identity is where Entra ID tokens
// come from (nil: the real IMDS / Entra ID).
func newCredential(b Backend, identity *Identity) (credential, error) {
	switch b.Auth {
	case AuthAPIKey, AuthBearer:
		key, err := secret(b.APIKey, b.APIKeyEnv, b.APIKeyFile)
		if err != nil {
			return nil, fmt.Errorf("backend %q: api key: %w", b.Name, err)
		}
		return staticKey{key: key, bearer: b.Auth == AuthBearer}, nil
	case AuthManagedIdentity:
		opts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: identity.clientOptions()}
		if b.ClientID != "" {
			opts.ID = azidentity.ClientID(b.ClientID)
		}
		cred, err := azidentity.NewManagedIdentityCredential(opts)
		if err != nil {
			return nil, fmt.Errorf("backend %q: managed identity: %w", b.Name, err)
		}
		return newTokenCache(cred, AuthManagedIdentity), nil
	case AuthClientCredentials:
		sec, err := secret("", b.SecretEnv, b.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("backend %q: client secret: %w", b.Name, err)
		}
		cred, err := azidentity.NewClientSecretCredential(b.TenantID, b.ClientID, sec,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: identity.clientOptions()})
		if err != nil {
			return nil, fmt.Errorf("backend %q: client credentials: %w", b.Name, err)
		}
		return newTokenCache(cred, AuthClientCredentials), nil
	}
	return nil, fmt.Errorf("backend %q: unknown auth %q", b.Name, b.Auth)
}

// secret is literal, else the environment variable env, else the file's
// content with surrounding white space trimmed; "" when none is given.
func secret(literal, env, file string) (string, error) {
	switch {
	case literal != "":
		return literal, nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return strings.TrimSpace(v), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", file, errors.Unwrap(err))
		}
		if v := strings.TrimSpace(string(b)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("%s is empty", file)
	}
	return "", nil
}

// clientOptions are the Azure SDK options for token requests: with an
// endpoint, every identity request (IMDS, Entra ID) goes there instead.
func (i *Identity) clientOptions() azcore.ClientOptions {
	var o azcore.ClientOptions
	if i == nil || i.Endpoint == "" {
		return o
	}
	u, _ := url.Parse(i.Endpoint) // validated
	o.Transport = redirect{to: u, next: &http.Client{Timeout: 30 * time.Second}}
	o.Retry = policy.RetryOptions{MaxRetries: 2, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: time.Second}
	return o
}

// redirect sends every request to the host of to, keeping its path, query
// and Host header: the IMDS address and the Entra ID authority are fixed
// in the SDK, so this is how a loopback identity endpoint is reached.
type redirect struct {
	to   *url.URL
	next *http.Client
}

func (r redirect) Do(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host = r.to.Scheme, r.to.Host
	out.Host = req.URL.Host
	return r.next.Do(out)
}

// tokenCache hands out a cached token and fetches the next one in the
// background once less than a refresh lead of its life remains, so a
// request only waits for a token when none is valid (the first one, or
// after refreshes failed until expiry). The lead is half the token's
// lifetime, at most 5 minutes, the margin before expiry after which a
// token is no longer sent a tenth of it, at most 30 s.
type tokenCache struct {
	cred  azcore.TokenCredential
	how   string
	now   func() time.Time
	fetch sync.Mutex // one token request at a time

	mu         sync.Mutex
	tok        azcore.AccessToken
	got        time.Time
	refreshing bool
	waits      atomic.Int64 // requests that waited for a token
}

func newTokenCache(cred azcore.TokenCredential, how string) *tokenCache {
	return &tokenCache{cred: cred, how: how, now: time.Now}
}

func (c *tokenCache) method() string { return c.how }

func (c *tokenCache) apply(ctx context.Context, h http.Header) error {
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	h.Set("Authorization", "Bearer "+tok)
	return nil
}

func (c *tokenCache) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	now := c.now()
	if lead, margin := c.leads(); c.tok.Token != "" && now.Before(c.tok.ExpiresOn.Add(-margin)) {
		if !c.refreshing && !now.Before(c.tok.ExpiresOn.Add(-lead)) {
			c.refreshing = true
			go c.refresh()
		}
		t := c.tok.Token
		c.mu.Unlock()
		return t, nil
	}
	c.mu.Unlock()
	c.waits.Add(1)
	return c.get(ctx, true)
}

// leads are the refresh lead and the expiry margin of the current token.
func (c *tokenCache) leads() (lead, margin time.Duration) {
	life := c.tok.ExpiresOn.Sub(c.got)
	return min(life/2, 5*time.Minute), min(life/10, 30*time.Second)
}

func (c *tokenCache) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = c.get(ctx, false) // on failure the next request past the lead tries again
	c.mu.Lock()
	c.refreshing = false
	c.mu.Unlock()
}

// get requests a token; with reuse, one another request got meanwhile is taken.
func (c *tokenCache) get(ctx context.Context, reuse bool) (string, error) {
	c.fetch.Lock()
	defer c.fetch.Unlock()
	if reuse {
		c.mu.Lock()
		_, margin := c.leads()
		tok := c.tok
		c.mu.Unlock()
		if tok.Token != "" && c.now().Before(tok.ExpiresOn.Add(-margin)) {
			return tok.Token, nil
		}
	}
	got := c.now()
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{CognitiveServicesScope}})
	if err != nil {
		return "", fmt.Errorf("get %s token: %w", c.how, err)
	}
	c.mu.Lock()
	c.tok, c.got = tok, got
	c.mu.Unlock()
	return tok.Token, nil
}
