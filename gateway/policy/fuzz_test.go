package policy

import "testing"

// FuzzParseCounterKey: every counter-key text either parses, and then
// resolves without panicking, or is refused with an error; an expression
// outside the supported set is never silently a constant.
func FuzzParseCounterKey(f *testing.F) {
	for _, s := range []string{
		"subscription", "ip", "product", "header:x-user-id", "jwt:sub", "subscription+header:x-user-id",
		"@(context.Subscription.Id)", "@(context.Request.IpAddress)",
		`@(context.Request.Headers.GetValueOrDefault("x-user-id",""))`,
		`@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)`,
		"@(context.Foo)", "@(", "@()", "header:", "+", "", `@(context.Request.Headers.GetValueOrDefault("a",`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseCounterKey(s)
		if err != nil {
			return
		}
		_ = k.Resolve(Facts{
			SubscriptionID: "s1", ClientIP: "127.0.0.2", Product: "p", API: "a",
			Header: func(name string) (string, bool) { return "h-" + name, name != "" },
			Claim:  func(name string) (string, bool) { return "c-" + name, name == "sub" },
		})
		_ = k.UsesClaims()
		if len(s) > 2 && s[0] == '@' && s[1] == '(' && len(k.Parts) == 0 {
			t.Fatalf("expression %q parsed into no key parts", s)
		}
	})
}
