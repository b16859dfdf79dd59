package scenario

import (
	"testing"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/loadgen"
)

// TestPersonaJWT: a persona's user_jwt without a secret borrows the
// gateway's HS256 key and kid; one with its own secret keeps it.
func TestPersonaJWT(t *testing.T) {
	t.Parallel()
	s := &Scenario{Gateway: gateway.Config{JWT: &gateway.JWTConfig{Keys: []gateway.JWTKey{
		{Kid: "rsa", Alg: "RS256", PEM: "-----"},
		{Kid: "k1", Alg: "HS256", Secret: "gateway-secret"},
	}}}}
	for _, c := range []struct {
		name     string
		in       *loadgen.UserJWT
		wantSec  string
		wantKid  string
		wantNone bool
	}{
		{"borrows secret and kid", &loadgen.UserJWT{Claim: "sub"}, "gateway-secret", "k1", false},
		{"keeps its own kid", &loadgen.UserJWT{Kid: "mine"}, "gateway-secret", "mine", false},
		{"keeps its own secret", &loadgen.UserJWT{Secret: "own"}, "own", "", false},
		{"names an env var", &loadgen.UserJWT{SecretEnv: "X"}, "", "", false},
		{"sends no JWT", nil, "", "", true},
	} {
		got := s.PersonaJWT(loadgen.Persona{UserJWT: c.in})
		switch {
		case c.wantNone && got != nil:
			t.Errorf("%s: got %+v, want nil", c.name, got)
		case !c.wantNone && (got == nil || got.Secret != c.wantSec || got.Kid != c.wantKid):
			t.Errorf("%s: got %+v, want secret %q kid %q", c.name, got, c.wantSec, c.wantKid)
		}
	}
	if in := (&loadgen.UserJWT{}); s.PersonaJWT(loadgen.Persona{UserJWT: in}) == in || in.Secret != "" {
		t.Errorf("PersonaJWT changed the persona's own settings")
	}
}
