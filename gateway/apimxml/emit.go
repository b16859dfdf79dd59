package apimxml

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aiload/aiload/gateway"
)

// WritePolicy writes a policy document whose inbound section holds <base/>
// and one llm-token-limit per limit, in the form Parse reads back. comment,
// when not empty, opens the document.
func WritePolicy(w io.Writer, comment string, limits ...gateway.TokenLimit) error {
	var b strings.Builder
	if comment != "" {
		fmt.Fprintf(&b, "<!-- %s -->\n", strings.ReplaceAll(comment, "--", "- -"))
	}
	b.WriteString("<policies>\n    <inbound>\n        <base />\n")
	for _, l := range limits {
		b.WriteString("        <llm-token-limit")
		attr := func(name, v string) {
			if v != "" {
				b.WriteString("\n            " + name + `="`)
				_ = xml.EscapeText(&b, []byte(v))
				b.WriteString(`"`)
			}
		}
		num := func(n int64) string {
			if n == 0 {
				return ""
			}
			return strconv.FormatInt(n, 10)
		}
		attr("counter-key", l.CounterKey)
		attr("tokens-per-minute", num(l.TokensPerMinute))
		attr("token-quota", num(l.TokenQuota))
		attr("token-quota-period", l.TokenQuotaPeriod)
		attr("estimate-prompt-tokens", strconv.FormatBool(l.EstimatePromptTokens))
		attr("retry-after-header-name", l.RetryAfterHeaderName)
		attr("remaining-tokens-header-name", l.RemainingTokensHeaderName)
		attr("remaining-quota-tokens-header-name", l.RemainingQuotaTokensHeaderName)
		attr("tokens-consumed-header-name", l.TokensConsumedHeaderName)
		b.WriteString(" />\n")
	}
	b.WriteString("    </inbound>\n    <backend>\n        <base />\n    </backend>\n    <outbound>\n        <base />\n    </outbound>\n    <on-error>\n        <base />\n    </on-error>\n</policies>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
