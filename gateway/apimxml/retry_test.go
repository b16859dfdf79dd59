package apimxml

import (
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway"
)

// TestRetryCondition: a <retry> condition becomes the statuses it holds
// for, as the gateway's retry.status_codes.
func TestRetryCondition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ cond, want string }{
		{`@(context.Response.StatusCode == 429)`, "429"},
		{`@(context.Response.StatusCode == 429 || context.Response.StatusCode >= 500)`, "429 500-599"},
		// Microsoft's backend pool sample: a backend's 503 is retried, the
		// pool's own "temporarily unavailable" is not (it never reaches
		// the condition in aiload)
		{`@(context.Response.StatusCode == 429 || (context.Response.StatusCode == 503 && !context.Response.StatusReason.Contains("Backend pool") && !context.Response.StatusReason.Contains("is temporarily unavailable")))`, "429 503"},
		{`@(context.Response.StatusCode != 200 && context.Response.StatusCode < 500)`, "100-199 201-499"},
	} {
		got, err := retryStatuses(tc.cond)
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%s: got %v (%v), want %s", tc.cond, got, err, tc.want)
		}
	}
	for _, bad := range []string{`context.Response.StatusCode == 429`, `@(context.Response.StatusCode == "x")`,
		`@(context.Request.Headers.Count > 1)`, `@(context.Response.StatusCode == 429`, `@(false)`} {
		if _, err := retryStatuses(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestRetryElement: <retry>'s attributes translate to the gateway's Retry;
// a missing count is an error at the element.
func TestRetryElement(t *testing.T) {
	t.Parallel()
	doc := `<policies><inbound><base/></inbound><backend>
  <retry condition="@(context.Response.StatusCode == 429)" count="2" interval="1" delta="2" max-interval="10" first-fast-retry="true">
    <forward-request buffer-request-body="true" />
  </retry>
</backend></policies>`
	pol, _, err := Parse("p.xml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := gateway.Retry{StatusCodes: []string{"429"}, Count: 2, Interval: time.Second, Delta: 2 * time.Second, MaxInterval: 10 * time.Second, FirstFastRetry: true}
	if pol.Retry == nil || strings.Join(pol.Retry.StatusCodes, ",") != "429" || pol.Retry.Count != want.Count || pol.Retry.Interval != want.Interval ||
		pol.Retry.Delta != want.Delta || pol.Retry.MaxInterval != want.MaxInterval || !pol.Retry.FirstFastRetry {
		t.Fatalf("retry %+v, want %+v", pol.Retry, want)
	}
	_, _, err = Parse("p.xml", []byte(`<policies><backend><retry condition="@(true)" interval="0"><forward-request/></retry></backend></policies>`))
	if err == nil || !strings.Contains(err.Error(), "p.xml:1:20") || !strings.Contains(err.Error(), "needs count") {
		t.Fatalf("missing count: %v", err)
	}
}
