package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGatewayAPIM: a scenario's gateway section names API Management
// documents relative to the scenario; their limits join the config, and a
// problem in a document is reported at the document's line and column.
func TestGatewayAPIM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("std.xml", `<policies>
  <inbound>
    <base />
    <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="{{tpm}}" estimate-prompt-tokens="false" />
  </inbound>
</policies>`)
	src := `gateway:
  subscriptions: [{id: s1, key: k1, product: standard, team: a}]
  apim:
    products: {standard: std.xml}
    named_values: {tpm: "NV"}
personas: [{name: p, subscription: s1, rate: 1/s, prompt_tokens: 10, completion_tokens: 10}]
`
	s, err := Parse(write("ok.yaml", strings.Replace(src, "NV", "4000", 1)), []byte(strings.Replace(src, "NV", "4000", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Gateway.Products; len(p) != 1 || p[0].Name != "standard" || len(p[0].TokenLimits) != 1 || p[0].TokenLimits[0].TokensPerMinute != 4000 {
		t.Fatalf("products %+v, want standard with 4000 tokens a minute", p)
	}
	bad := strings.Replace(src, `named_values: {tpm: "NV"}`, `named_values: {}`, 1)
	_, err = Parse(write("bad.yaml", bad), []byte(bad))
	want := filepath.Join(dir, "std.xml") + `:4:63: named value {{tpm}} is not defined: give it under apim.named_values or in the environment as TPM`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
}
