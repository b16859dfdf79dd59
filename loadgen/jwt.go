package loadgen

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// UserJWT makes each user send its own HS256-signed JWT as
// "Authorization: Bearer …", with its user id ("<persona>-<n>") in Claim,
// so a gateway can key limits on a JWT claim (jwt:sub) or validate it.
//
//	user_jwt: {claim: sub, issuer: https://issuer.example, audience: api://aiload,
//	           kid: k1, claims: {scp: chat}, secret_env: AILOAD_JWT_SECRET}
//
// Without secret and secret_env, `aiload run` signs with the embedded
// gateway's first HS256 key.
type UserJWT struct {
	// Claim carries the user id (default sub).
	Claim    string `yaml:"claim" json:"claim,omitempty"`
	Issuer   string `yaml:"issuer" json:"issuer,omitempty"`
	Audience string `yaml:"audience" json:"audience,omitempty"`
	// Kid is written in the token header when set.
	Kid string `yaml:"kid" json:"kid,omitempty"`
	// Claims are extra claims, e.g. scp: chat.
	Claims map[string]string `yaml:"claims" json:"claims,omitempty"`
	// Secret is the HS256 key; SecretEnv names an environment variable
	// holding it.
	Secret    string `yaml:"secret" json:"-"`
	SecretEnv string `yaml:"secret_env" json:"secret_env,omitempty"`
}

// sign returns user's token, valid from now until exp.
func (u *UserJWT) sign(user string, now, exp time.Time) (string, error) {
	secret := u.Secret
	if u.SecretEnv != "" {
		secret = os.Getenv(u.SecretEnv)
	}
	if secret == "" {
		return "", errors.New("user_jwt: no signing secret (secret, secret_env, or an HS256 key of the embedded gateway)")
	}
	claim := u.Claim
	if claim == "" {
		claim = "sub"
	}
	c := jwt.MapClaims{"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": exp.Unix()}
	for k, v := range u.Claims {
		c[k] = v
	}
	if u.Issuer != "" {
		c["iss"] = u.Issuer
	}
	if u.Audience != "" {
		c["aud"] = u.Audience
	}
	c[claim] = user
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	if u.Kid != "" {
		t.Header["kid"] = u.Kid
	}
	s, err := t.SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("user_jwt: sign: %w", err)
	}
	return s, nil
}
