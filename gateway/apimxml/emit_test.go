package apimxml_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/apimxml"
)

// TestWritePolicyRoundTrip: what WritePolicy writes, Parse reads back as
// the same limits.
func TestWritePolicyRoundTrip(t *testing.T) {
	t.Parallel()
	want := []gateway.TokenLimit{
		{CounterKey: "@(context.Subscription.Id)", TokensPerMinute: 12000, TokenQuota: 3400000, TokenQuotaPeriod: "Monthly"},
		{CounterKey: `@(context.Request.Headers.GetValueOrDefault("x-user-id",""))`, TokensPerMinute: 500, EstimatePromptTokens: true,
			RemainingTokensHeaderName: "x-left", RetryAfterHeaderName: "x-wait"},
	}
	var buf bytes.Buffer
	if err := apimxml.WritePolicy(&buf, "limits -- recommended", want...); err != nil {
		t.Fatal(err)
	}
	pol, warnings, err := apimxml.Parse("emitted.xml", buf.Bytes())
	if err != nil || len(warnings) > 0 {
		t.Fatalf("parse emitted policy: %v %v\n%s", err, warnings, buf.String())
	}
	if !reflect.DeepEqual(pol.TokenLimits, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v\n%s", pol.TokenLimits, want, buf.String())
	}
}
