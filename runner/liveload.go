package runner

import (
	"time"

	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/reports/dashboard"
	"github.com/aiload/aiload/scenario"
)

// mergeLoad adds the load generator's view to a dashboard snapshot: the
// callers' totals, the persona rows (agents' pipelines, batch jobs), and,
// when no gateway records arrive (an external target), the rates and the
// per-subscription rows as the callers saw them.
func mergeLoad(s *dashboard.Snapshot, ls *loadgen.Snapshot, sc *scenario.Scenario, clientTPM map[string]int64) {
	t := ls.Total
	s.Client = &dashboard.ClientTotals{Sent: t.Sent, OK: t.OK, Throttled: t.Throttled,
		Errors: t.Errors, Retries: t.Retries, GaveUp: t.GaveUp, InFlight: t.InFlight}
	s.Personas = personaRows(ls, s.Personas, sc)
	if s.Totals.Requests > 0 {
		return // the gateway's own records are the better source
	}
	s.RequestRate, s.TokenRate = 0, 0
	for _, iv := range ls.Intervals {
		s.RequestRate += iv.SentPerSec
		s.TokenRate += iv.TokensPerMin / 60
	}
	s.Totals = dashboard.Totals{Requests: t.Sent, OK: t.OK, Throttled: t.Throttled, Errors: t.Errors,
		Tokens: t.PromptTokens + t.CompletionTokens}
	s.Teams = subscriptionRows(ls, s.Teams, clientTPM)
}

// personaRows are the load generator's persona stats, in scenario order,
// with the NAT egress IPs the gateway saw (the callers cannot tell which
// of their addresses were throttled).
func personaRows(ls *loadgen.Snapshot, fromGateway []dashboard.PersonaRow, sc *scenario.Scenario) []dashboard.PersonaRow {
	gw := map[string]dashboard.PersonaRow{}
	for _, p := range fromGateway {
		gw[p.Persona] = p
	}
	egress, jobSize := map[string]int{}, map[string]int64{}
	for _, p := range sc.Personas {
		egress[p.Name], jobSize[p.Name] = p.EgressIPs, int64(p.Requests)
	}
	rows := make([]dashboard.PersonaRow, 0, len(ls.Personas))
	for _, p := range ls.Personas {
		row := dashboard.PersonaRow{
			Persona: p.Name, Team: p.Team, Kind: p.Kind, Requests: p.Sent, OK: p.OK,
			Throttled: p.Throttled, Errors: p.Errors, Retries: p.Retries,
			P50MS: p.Latency.P50, P99MS: p.Latency.P99, ITLP50MS: p.ITL.P50, ITLP99MS: p.ITL.P99,
		}
		if pl := p.Pipelines; pl != nil {
			row.RunsPipelines = true
			row.PipelinesDone, row.PipelinesBroken = pl.Completed, pl.Broken
		}
		if j := p.Jobs; j != nil {
			row.BatchDone, row.BatchTotal, row.BatchFailed = j.Completed+j.Failed, j.Started, j.Failed
			row.ItemsDone, row.ItemsTotal = p.OK+p.GaveUp, j.Started*jobSize[p.Name]
		}
		if p.Kind == loadgen.KindNAT {
			row.BehindNAT = true
			row.NATIPs = egress[p.Name]
			row.NATIPsThrottled = gw[p.Name].NATIPsThrottled
		}
		rows = append(rows, row)
	}
	return rows
}

// subscriptionRows are the callers' per-subscription stats, for targets
// whose records aiload does not see. The limit stays unknown (0).
func subscriptionRows(ls *loadgen.Snapshot, known []dashboard.TeamRow, clientTPM map[string]int64) []dashboard.TeamRow {
	meta := map[string]dashboard.TeamRow{}
	for _, r := range known {
		meta[r.Subscription] = r
	}
	rows := make([]dashboard.TeamRow, 0, len(ls.Subscriptions))
	for _, st := range ls.Subscriptions {
		m := meta[st.Name]
		rows = append(rows, dashboard.TeamRow{
			Team: firstNonEmpty(m.Team, st.Team), Subscription: st.Name, Product: m.Product,
			TPMUsed: clientTPM[st.Name], Requests: st.Sent, ThrottledTotal: st.Throttled,
			Errors: st.Errors, P50MS: st.Latency.P50, P99MS: st.Latency.P99,
			Tokens: st.PromptTokens + st.CompletionTokens,
		})
	}
	return rows
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// subWindow remembers each subscription's cumulative successful tokens
// over the last minute of load snapshots, so that tokens per minute can be
// derived from the callers' side: used = total(now) − total(60 s ago).
type subWindow struct {
	points []subPoint
}

type subPoint struct {
	at     time.Time
	tokens map[string]int64
}

func (w *subWindow) add(now time.Time, subs []loadgen.Stats) {
	p := subPoint{at: now, tokens: map[string]int64{}}
	for _, s := range subs {
		p.tokens[s.Name] = s.PromptTokens + s.CompletionTokens
	}
	w.points = append(w.points, p)
	for len(w.points) > 1 && now.Sub(w.points[1].at) >= time.Minute {
		w.points = w.points[1:]
	}
}

// used is tokens per subscription over the last minute (or since the
// first snapshot, when the run is younger).
func (w *subWindow) used(now time.Time) map[string]int64 {
	if len(w.points) == 0 {
		return nil
	}
	first, last := w.points[0], w.points[len(w.points)-1]
	out := map[string]int64{}
	for id, v := range last.tokens {
		base := first.tokens[id]
		if now.Sub(first.at) < time.Minute {
			base = 0 // the run is younger than a minute: count from its start
		}
		out[id] = v - base
	}
	return out
}
