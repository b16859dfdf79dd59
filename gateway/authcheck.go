package gateway

import "fmt"

// validateAuth checks that b names exactly the credential its auth needs.
func (b Backend) validateAuth(errs *problems, path string) {
	keys := 0
	for _, k := range []string{b.APIKey, b.APIKeyEnv, b.APIKeyFile} {
		if k != "" {
			keys++
		}
	}
	switch b.Auth {
	case AuthAPIKey, AuthBearer:
		if keys > 1 {
			errs.add(path, "set one of api_key, api_key_env and api_key_file")
		}
		if b.ClientID != "" || b.TenantID != "" || b.SecretEnv != "" || b.SecretFile != "" {
			errs.add(path+".auth", "client_id, tenant_id, secret_env and secret_file need auth managed_identity or client_credentials, got %q", b.Auth)
		}
	case AuthManagedIdentity, AuthClientCredentials:
		if keys > 0 {
			errs.add(path+".auth", "%s sends an Entra ID token: remove api_key, api_key_env and api_key_file", b.Auth)
		}
		if b.Auth == AuthManagedIdentity && (b.TenantID != "" || b.SecretEnv != "" || b.SecretFile != "") {
			errs.add(path+".auth", "managed_identity takes only client_id (a user-assigned identity); tenant_id and secrets belong to client_credentials")
		}
		if b.Auth == AuthClientCredentials {
			if b.TenantID == "" {
				errs.add(path+".tenant_id", "must be set for client_credentials")
			}
			if b.ClientID == "" {
				errs.add(path+".client_id", "must be set for client_credentials")
			}
			if (b.SecretEnv == "") == (b.SecretFile == "") {
				errs.add(path, "client_credentials needs one of secret_env and secret_file")
			}
		}
	default:
		errs.add(path+".auth", "must be api_key, bearer, managed_identity or client_credentials, got %q", b.Auth)
	}
}

// Warnings are the config's accepted but discouraged settings, one line
// each with its field path: a literal backend api_key (or a password in
// the semantic cache's Redis URL) is stored in the file; a key or secret variable or file that cannot be read here (the
// gateway may run elsewhere) is named. No secret is ever part of a warning.
func (c *Config) Warnings() []string {
	var out []string
	for i, b := range c.Backends {
		path := fmt.Sprintf("backends[%d]", i)
		if b.APIKey != "" {
			out = append(out, path+".api_key: a literal key is stored in the config; use api_key_env, api_key_file or auth: managed_identity")
		}
		if _, err := secret("", b.APIKeyEnv, b.APIKeyFile); err != nil {
			out = append(out, fmt.Sprintf("%s: api key: %v (on this machine)", path, err))
		}
		if _, err := secret("", b.SecretEnv, b.SecretFile); err != nil {
			out = append(out, fmt.Sprintf("%s: client secret: %v (on this machine)", path, err))
		}
	}
	return append(out, c.SemanticCache.warnings()...)
}

// TokenAuth reports whether b authenticates with an Entra ID token.
func TokenAuth(b Backend) bool {
	return b.Auth == AuthManagedIdentity || b.Auth == AuthClientCredentials
}
