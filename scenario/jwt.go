package scenario

import (
	"strings"

	"github.com/aiload/aiload/loadgen"
)

// PersonaJWT returns p's user_jwt settings ready to sign with: a persona
// that names no secret (secret or secret_env) borrows the embedded
// gateway's first HS256 key, its secret and, unless the persona sets one,
// its kid, so a scenario states the secret once. It returns p.UserJWT as it
// is when the persona names a secret, the gateway validates no JWTs, or it
// has no HS256 key; nil when the persona sends no JWT.
func (s *Scenario) PersonaJWT(p loadgen.Persona) *loadgen.UserJWT {
	if p.UserJWT == nil || p.UserJWT.Secret != "" || p.UserJWT.SecretEnv != "" || s.Gateway.JWT == nil {
		return p.UserJWT
	}
	u := *p.UserJWT
	for _, k := range s.Gateway.JWT.Keys {
		if strings.EqualFold(k.Alg, "HS256") && k.Secret != "" {
			u.Secret = k.Secret
			if u.Kid == "" {
				u.Kid = k.Kid
			}
			break
		}
	}
	return &u
}
