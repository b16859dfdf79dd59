package runner

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// printSummary writes the per-subscription table and where the files are.
func printSummary(w io.Writer, res *Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "subscription\tteam\tproduct\trequests\tok\t429\tprompt tok\tcompletion tok\tpeak TPM\tlimit TPM\tp50 ms\tp99 ms\t")
	for _, s := range res.Summary {
		limit := "none"
		if s.LimitTPM > 0 {
			limit = fmt.Sprint(s.LimitTPM)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%.0f\t%.0f\t\n",
			s.SubscriptionID, s.Team, s.Product, s.Requests, s.OK, s.Throttled,
			s.PromptTokens, s.CompletionTokens, s.PeakTPM, limit, s.P50MS, s.P99MS)
	}
	_ = tw.Flush()
	t := res.Load.Totals()
	fmt.Fprintf(w, "\nload generator: sent %d, answered %d, ok %d, 429 %d (retried %d, gave up %d), errors %d\n",
		t.Sent, t.Responses, t.OK, t.Throttled, t.Retries, t.GaveUp, t.Errors)
	fmt.Fprintf(w, "records: %d in %s\ndatabase: %s\n", res.Records, res.Log, res.DB)
}
