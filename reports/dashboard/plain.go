package dashboard

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Plain prints progress lines to w (CI, pipes, --no-tui): one line every
// `every` of elapsed time (default 5 s), a line naming the subscriptions
// throttled in the last minute, and a line at each change of phase. It
// returns when snapshots is closed. No colour, no cursor movement.
func Plain(w io.Writer, snapshots <-chan Snapshot, every time.Duration) {
	if every <= 0 {
		every = 5 * time.Second
	}
	next := every
	var phase Phase
	for s := range snapshots {
		if s.Phase != phase && phase != "" {
			if line := phaseLine(s); line != "" {
				fmt.Fprintln(w, line)
			}
		}
		phase = s.Phase
		if (s.Phase == PhaseRunning || s.Phase == PhaseAttached) && s.Elapsed >= next {
			fmt.Fprintln(w, ProgressLine(s))
			if line := throttledLine(s); line != "" {
				fmt.Fprintln(w, line)
			}
			for next <= s.Elapsed {
				next += every
			}
		}
	}
}

// ProgressLine is one plain progress line:
//
//	aiload:    10s/1m0s  sent 123  ok 100  429 23  errors 0  in flight 2  4.2 req/s  2,310 tok/s  $0.0123
//
// Counts are the callers' when a load generator is attached, else the
// gateway's ("in flight" only with the callers').
func ProgressLine(s Snapshot) string {
	sent, ok, thr, errs := s.Totals.Requests, s.Totals.OK, s.Totals.Throttled, s.Totals.Errors
	flight := ""
	if c := s.Client; c != nil {
		sent, ok, thr, errs = c.Sent, c.OK, c.Throttled, c.Errors
		flight = fmt.Sprintf("  in flight %d", c.InFlight)
	}
	when := fmt.Sprintf("%5.0fs", s.Elapsed.Seconds())
	if s.Total > 0 {
		when += "/" + s.Total.String()
	}
	line := fmt.Sprintf("aiload: %s  sent %d  ok %d  429 %d  errors %d%s  %s req/s  %s tok/s  %s",
		when, sent, ok, thr, errs, flight, rate(s.RequestRate), rate(s.TokenRate), usd(s.Totals.CostUSD, s.Totals.CostKnown))
	if n := s.Totals.RecordsDropped; n > 0 {
		line += fmt.Sprintf("  RECORDS LOST %d", n)
	}
	if s.Totals.CacheLookups > 0 {
		line += "  " + cacheItem(s.Totals)
	}
	return line
}

// throttledLine names subscriptions with 429s in the last minute.
func throttledLine(s Snapshot) string {
	var parts []string
	for _, t := range s.Teams {
		if t.Throttled1m > 0 {
			parts = append(parts, fmt.Sprintf("%s (%s) %d×429, %s/%s TPM", t.Subscription, t.Team, t.Throttled1m, count(t.TPMUsed), count(t.TPMLimit)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "aiload:   throttled in the last minute: " + strings.Join(parts, "; ")
}

func phaseLine(s Snapshot) string {
	switch s.Phase {
	case PhaseDraining:
		return "aiload: load stopped; draining in-flight requests…"
	case PhaseWriting:
		if s.External {
			return "aiload: in-flight requests drained; writing the summary…"
		}
		return "aiload: in-flight requests drained, log flushed; writing the database…"
	case PhaseFailed:
		return "aiload: run failed " + s.Note
	}
	return ""
}
