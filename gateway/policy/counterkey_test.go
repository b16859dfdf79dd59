package policy

import (
	"strings"
	"testing"
	"time"
)

func TestCounterKeys(t *testing.T) {
	t.Parallel()
	headers := map[string]string{"x-user-id": "alice"}
	claims := map[string]string{"sub": "user-42", "oid": "obj-7"}
	f := Facts{
		SubscriptionID: "sub-a", ClientIP: "10.0.0.9", Product: "standard", API: "openai",
		UserID: "alice@contoso", Operation: "embeddings",
		Header: func(n string) (string, bool) { v, ok := headers[strings.ToLower(n)]; return v, ok },
		Claim:  func(n string) (string, bool) { v, ok := claims[n]; return v, ok },
	}
	for _, tc := range []struct {
		key, want string
	}{
		{"subscription", "sub-a"},                        // short form: one counter per subscription
		{"ip", "10.0.0.9"},                               // client IP
		{"product", "standard"},                          // one counter for the whole product
		{"header:x-user-id", "alice"},                    // header value
		{"header:x-missing", ""},                         // absent header: empty value
		{"jwt:sub", "user-42"},                           // JWT claim
		{"subscription+header:x-user-id", "sub-a:alice"}, // combination
		{"@(context.Subscription.Id)", "sub-a"},          // APIM expression forms
		{"@(context.Request.IpAddress)", "10.0.0.9"},     // ...
		{`@(context.Request.Headers.GetValueOrDefault("x-user-id",""))`, "alice"},
		{`@(request.Headers.GetValueOrDefault("x-missing","anon"))`, "anon"}, // default value
		{`@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)`, "user-42"},
		{`@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Claims.GetValueOrDefault("oid",""))`, "obj-7"},
		// Microsoft's samples strip the scheme before AsJwt()
		{`@(context.Request.Headers.GetValueOrDefault("Authorization","").Split(' ').Last().AsJwt()?.Claims.GetValueOrDefault("oid",""))`, "obj-7"},
		{`@(context.Subscription.Id + "-" + context.Request.IpAddress)`, "sub-a-10.0.0.9"},           // concatenation
		{`@(String.Concat(context.Subscription.Id, "|", context.Operation.Id))`, "sub-a|embeddings"}, // String.Concat
		{`@(String.Concat("u-", String.Concat(context.User.Id, "+")) + "x")`, "u-alice@contoso+x"},   // nested, "+" inside a literal
		{`@((context.Subscription.Id) + ("-" + context.Api.Name))`, "sub-a-openai"},                  // parenthesised terms
		{`@(context.Subscription.Key)`, "sub-a"},                                                     // never the key itself: the subscription's counter
		{`@(context.User.Id)`, "alice@contoso"},                                                      // the record's user_id
	} {
		k, err := ParseCounterKey(tc.key)
		if err != nil {
			t.Errorf("ParseCounterKey(%q): %v", tc.key, err)
			continue
		}
		if got := k.Resolve(f); got != tc.want {
			t.Errorf("ParseCounterKey(%q).Resolve = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestCounterKeyUnsupported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key, mention string
	}{
		{"@(context.User.Email)", "context.User.Email"},                 // unknown member: named in the error
		{"@(DateTime.UtcNow.ToString())", "DateTime.UtcNow.ToString()"}, // arbitrary C#: rejected, not a constant
		{"@{ return context.Subscription.Id; }", "@{"},                  // multi-statement expressions
		{"user", `"user"`}, // unknown short form
		{`@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Audiences)`, "Audiences"},
	} {
		_, err := ParseCounterKey(tc.key)
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParseCounterKey(%q) error = %v, want one naming %q", tc.key, err, tc.mention)
		}
	}
}

func TestQuotaPeriodBounds(t *testing.T) {
	t.Parallel()
	now := t0.Add(25*time.Minute + 7*time.Second) // Wed 2026-11-25 12:25:07 UTC
	for _, tc := range []struct {
		p          QuotaPeriod
		start, end string
	}{
		{Hourly, "2026-11-25T12:00:00Z", "2026-11-25T13:00:00Z"},
		{Daily, "2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z"},
		{Weekly, "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"}, // Monday to Monday
		{Monthly, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"},
		{Yearly, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
	} {
		s, e := tc.p.Bounds(now)
		if s.Format(time.RFC3339) != tc.start || e.Format(time.RFC3339) != tc.end {
			t.Errorf("%s.Bounds(%v) = %v, %v; want %s, %s", tc.p, now, s, e, tc.start, tc.end)
		}
	}
}
