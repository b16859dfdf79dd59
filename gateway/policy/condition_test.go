package policy

import (
	"strings"
	"testing"
)

// TestConditions evaluates choose/when conditions against one request.
func TestConditions(t *testing.T) {
	t.Parallel()
	f := Facts{SubscriptionID: "sub-a", Product: "trial", API: "azure-openai", Operation: "chat",
		Header: func(n string) (string, bool) {
			v, ok := map[string]string{"x-team": "Support", "user-agent": "Mozilla (iPad)"}[strings.ToLower(n)]
			return v, ok
		}}
	for _, tc := range []struct {
		cond string
		want bool
	}{
		{`@(context.Product.Name == "trial")`, true},                                            // equality of a member and a literal
		{`@(context.Product.Name != "trial")`, false},                                           // inequality
		{`@(context.Subscription.Name + ":" + context.Api.Name == "sub-a:azure-openai")`, true}, // concatenation
		{`@(context.Request.Headers.GetValueOrDefault("x-team","").Equals("support", StringComparison.OrdinalIgnoreCase))`, true},
		{`@(context.Request.Headers.GetValueOrDefault("x-team","").Equals("support"))`, false},   // ordinal by default
		{`@(context.Request.Headers.GetValueOrDefault("User-Agent","").Contains("iPad"))`, true}, // Contains
		{`@(context.Request.Headers.ContainsKey("x-team") && !context.Request.Headers.ContainsKey("x-missing"))`, true},
		{`@(String.IsNullOrEmpty(context.Request.Headers.GetValueOrDefault("x-missing","")))`, true},
		{`@((context.Product.Name == "gold" || context.Operation.Id == "chat") && context.Api.Name.StartsWith("azure"))`, true},
		{`@(!(context.Product.Name == "trial"))`, false},                               // negated group
		{`@(context.Request.Headers.GetValueOrDefault("x-team","") == "a||b")`, false}, // operators inside literals are text
		{`true`, true}, {`false`, false}, {`@("true")`, true},
	} {
		c, err := ParseCondition(tc.cond)
		if err != nil {
			t.Errorf("%s: %v", tc.cond, err)
			continue
		}
		if got := c.Eval(f); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.cond, got, tc.want)
		}
	}
	for _, bad := range []string{`@(context.Deployment.Id == "x")`, `@{ return true; }`, `@(context.Product.Name.ToLower() == "x")`, `@(a &&)`} {
		if _, err := ParseCondition(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
