package gateway

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aiload/aiload/gateway/mockidentity"
)

// startIdentity starts the built-in mock identity endpoint when id asks for one.
func (m *embeddedMocks) startIdentity(id *Identity, stderr io.Writer) error {
	if id == nil || id.Mock == nil {
		return nil
	}
	s, err := mockidentity.New(mockidentity.Config{TokenLifetime: id.Mock.TokenLifetime})
	if err != nil {
		return fmt.Errorf("mock identity endpoint: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the mock identity endpoint: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	m.servers = append(m.servers, srv)
	m.identity, m.identityURL = s, "http://"+ln.Addr().String()
	fmt.Fprintf(stderr, "aiload gateway: mock identity endpoint (IMDS, Entra ID) at %s\n", m.identityURL)
	return nil
}

// guard has b's embedded mock answer only the mock identity's tokens when b
// authenticates with tokens and the mock identity endpoint runs.
func (m *embeddedMocks) guard(b Backend, h http.Handler) http.Handler {
	if m.identity == nil || !TokenAuth(b) {
		return h
	}
	return m.identity.Require(h)
}

// withIdentity points cfg's token requests at the mock identity endpoint, if one runs.
func (m *embeddedMocks) withIdentity(cfg Config) Config {
	if m.identityURL != "" {
		id := *cfg.Identity
		id.Endpoint = m.identityURL
		cfg.Identity = &id
	}
	return cfg
}
