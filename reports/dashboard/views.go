package dashboard

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// overview: rates with sparklines, totals, and a row per subscription.
func (m Model) overview(width int) []string {
	s := m.snap
	reqs := fmt.Sprintf("requests/s %7s ", rate(s.RequestRate))
	toks := fmt.Sprintf("tokens/s %9s ", rate(s.TokenRate))
	var lines []string
	if width >= 80 {
		spark := (width - len(reqs) - len(toks) - 4) / 2
		lines = append(lines, reqs+m.st.ok.Render(sparkline(m.reqHist, spark))+"    "+toks+m.st.ok.Render(sparkline(m.tokHist, spark)))
	} else {
		lines = append(lines,
			reqs+m.st.ok.Render(sparkline(m.reqHist, width-len(reqs))),
			toks+m.st.ok.Render(sparkline(m.tokHist, width-len(toks))))
	}
	t := s.Totals
	items := []string{"requests " + count(t.Requests), "ok " + count(t.OK), "429 " + m.throttled(t.Throttled),
		"errors " + count(t.Errors), "tokens " + count(t.Tokens), "cost " + usd(t.CostUSD, t.CostKnown)}
	if t.RecordsDropped > 0 {
		items = append(items, m.st.bad.Render("records lost "+count(t.RecordsDropped)))
	}
	if t.CacheLookups > 0 {
		items = append(items, cacheItem(t))
	}
	lines = append(lines, wrapItems(width, items...)...)
	if c := s.Client; c != nil {
		for _, l := range wrapItems(width, "callers: sent "+count(c.Sent), "ok "+count(c.OK), "429 "+count(c.Throttled),
			"errors "+count(c.Errors), "retries "+count(c.Retries), "gave up "+count(c.GaveUp), "in flight "+count(c.InFlight)) {
			lines = append(lines, m.st.faint.Render(l))
		}
	}
	lines = append(lines, "")
	return append(lines, m.teamTable(width)...)
}

// cacheItem is the semantic cache's line: hits of lookups, the tokens it
// served and their list-price equivalent.
func cacheItem(t Totals) string {
	return fmt.Sprintf("cache hits %s/%s (%.1f%%), %s tokens from cache, saved %s", count(t.CacheHits), count(t.CacheLookups),
		100*float64(t.CacheHits)/float64(t.CacheLookups), count(t.CachedTokens), usd(t.CacheSavedUSD, true))
}

// wrapItems joins items with two spaces into lines of at most width cells.
func wrapItems(width int, items ...string) []string {
	var lines []string
	line := ""
	for _, it := range items {
		switch {
		case line == "":
			line = it
		case ansi.StringWidth(line)+2+ansi.StringWidth(it) <= width:
			line += "  " + it
		default:
			lines = append(lines, line)
			line = it
		}
	}
	return append(lines, line)
}

func (m Model) throttled(n int64) string {
	if n > 0 {
		return m.st.bad.Render(count(n))
	}
	return count(n)
}

func (m Model) teamTable(width int) []string {
	cols := []column{
		{title: "TEAM", width: 10},
		{title: "SUBSCRIPTION", width: 13, drop: 4},
		{title: "PRODUCT", width: 9, drop: 6},
		{title: "TPM USED / LIMIT", width: 24, max: 44, flex: true},
		{title: "429 1m/all", width: 10, right: true},
		{title: "p50/p99 ms", width: 10, right: true, drop: 3},
		{title: "TOKENS", width: 8, right: true, drop: 2},
		{title: "COST", width: 8, right: true, drop: 5},
	}
	var rows [][]cell
	for _, r := range m.snap.Teams {
		rows = append(rows, []cell{
			txt(r.Team), txt(r.Subscription), txt(r.Product),
			m.keyedUsedCell(r),
			m.throttledCell(r.Throttled1m, r.ThrottledTotal),
			txt(millis(r.P50MS) + "/" + millis(r.P99MS)),
			txt(count(r.Tokens)), txt(usd(r.CostUSD, r.CostKnown)),
		})
	}
	if len(rows) == 0 {
		return []string{m.st.faint.Render("no requests yet")}
	}
	return table(m.st, cols, rows, width)
}

// throttledCell is "429s in the last minute/in total", red while throttled.
func (m Model) throttledCell(last, total int64) cell {
	s := count(last) + "/" + count(total)
	if last > 0 {
		return styled(m.st.bad, s)
	}
	return txt(s)
}

func styledCount(m Model, n int64) cell {
	if n > 0 {
		return styled(m.st.bad, count(n))
	}
	return txt(count(n))
}

// keyedUsedCell is usedCell, saying when the limit is kept per IP, user
// or header value and the numbers are its busiest counter's (the 429
// events name the key). The bar goes first when room is short.
func (m Model) keyedUsedCell(r TeamRow) cell {
	c := m.usedCell(r.TPMUsed, r.TPMLimit)
	if r.Keys <= 1 || r.TPMLimit <= 0 {
		return c
	}
	note := fmt.Sprintf(" busiest of %d keys", r.Keys)
	return func(w int) string {
		switch {
		case w >= usedNumsWidth+len(note)+7:
			return c(w-len(note)) + m.st.faint.Render(note)
		case w >= usedNumsWidth+len(note):
			return c(usedNumsWidth) + m.st.faint.Render(note)
		default:
			return c(w)
		}
	}
}

// usedNumsWidth fits "10,000/10,000 100%": bars of one table line up
// while numbers stay below this width.
const usedNumsWidth = 18

// usedCell is "██████░░░░ 9,800/10,000 98%", shrinking to the numbers alone.
func (m Model) usedCell(used, limit int64) cell {
	return func(w int) string {
		if limit <= 0 {
			return count(used) + " (no limit)"
		}
		frac := float64(used) / float64(limit)
		nums := fmt.Sprintf("%s/%s %s", count(used), count(limit), percent(frac))
		nums = strings.Repeat(" ", max(usedNumsWidth-len(nums), 0)) + nums // bars of one table line up
		if barW := w - len(nums) - 1; barW >= 6 {
			return m.st.bar(frac, barW) + " " + m.st.level(frac).Render(nums)
		}
		return m.st.level(frac).Render(nums)
	}
}

// backendsView: PTU utilisation (tokens served against the capacity, and
// the utilization the backend itself reported), spill-over share and
// breaker per backend.
func (m Model) backendsView(width int) []string {
	cols := []column{
		{title: "BACKEND", width: 12},
		{title: "TIER", width: 4},
		{title: "PRIO", width: 4, right: true, drop: 5},
		{title: "REQUESTS", width: 8, right: true, drop: 4},
		{title: "TPM / CAPACITY", width: 14, max: 40, flex: true},
		{title: "SHARE", width: 5, right: true},
		{title: "BREAKER", width: 9, drop: 1},
		{title: "TRIPS", width: 5, right: true, drop: 3},
		{title: "ERRORS", width: 6, right: true, drop: 2},
	}
	var rows [][]cell
	var spill, all int64
	hasPTU := false
	for _, b := range m.snap.Backends {
		all += b.Tokens
		hasPTU = hasPTU || b.Tier == "ptu"
		if b.Tier == "payg" {
			spill += b.Tokens
		}
		prio := "–"
		if b.Priority > 0 {
			prio = fmt.Sprint(b.Priority)
		}
		rows = append(rows, []cell{
			txt(b.Name), txt(b.Tier), txt(prio), txt(count(b.Requests)),
			m.capacityCell(b), txt(percent(b.Share)), m.breakerCell(b.Breaker),
			txt(count(b.Trips)), styledCount(m, b.Errors),
		})
	}
	if len(rows) == 0 {
		return []string{m.st.faint.Render("no backend has served a request yet")}
	}
	lines := table(m.st, cols, rows, width)
	if u := utilizationLines(m.snap.Backends); len(u) > 0 {
		lines = append(append(lines, ""), u...)
	}
	if !hasPTU { // PAYG tokens spill over from nothing
		return append(lines, "", "no PTU backend: every token is PAYG, nothing spills over")
	}
	share := 0.0
	if all > 0 {
		share = float64(spill) / float64(all)
	}
	return append(lines, "", fmt.Sprintf("PAYG spill-over: %s of %s tokens (%s)", count(spill), count(all), percent(share)))
}

// utilizationLines say, per backend that reported it, what it said of its
// own load in azure-openai-deployment-utilization.
func utilizationLines(rows []BackendRow) []string {
	var out []string
	for _, b := range rows {
		if b.UtilizationCount > 0 {
			out = append(out, fmt.Sprintf("%s reported utilization: avg %.1f%%, p95 %.1f%% over %s answers",
				b.Name, b.UtilizationAvg, b.UtilizationP95, count(b.UtilizationCount)))
		}
	}
	return out
}

func (m Model) capacityCell(b BackendRow) cell {
	u := b.Utilisation()
	if u < 0 {
		return txt(count(b.TPM) + " (no ceiling)")
	}
	return m.usedCell(b.TPM, b.CapacityTPM)
}

func (m Model) breakerCell(state string) cell {
	switch state {
	case BreakerOpen:
		return styled(m.st.bad, state)
	case BreakerHalfOpen:
		return styled(m.st.warn, state)
	case BreakerClosed:
		return styled(m.st.ok, state)
	default:
		return txt("–")
	}
}

// personasView: requests per persona, agents' pipelines, batch progress
// and NAT'd users' throttled egress IPs.
func (m Model) personasView(width int) []string {
	cols := []column{
		{title: "PERSONA", width: 16},
		{title: "TEAM", width: 9, drop: 4},
		{title: "KIND", width: 5, drop: 5},
		{title: "REQS", width: 6, right: true, drop: 3},
		{title: "OK", width: 5, right: true, drop: 6},
		{title: "429", width: 5, right: true},
		{title: "RETRIES", width: 7, right: true, drop: 7},
		{title: "p99 ms", width: 6, right: true, drop: 8},
		{title: "ITL p50/p99", width: 11, right: true, drop: 9},
		{title: "PROGRESS", width: 26, max: 44, flex: true, drop: 1},
	}
	var rows [][]cell
	for _, p := range m.snap.Personas {
		itl := "–"
		if p.ITLP50MS > 0 {
			itl = millis(p.ITLP50MS) + "/" + millis(p.ITLP99MS)
		}
		rows = append(rows, []cell{
			txt(p.Persona), txt(p.Team), txt(p.Kind), txt(count(p.Requests)), txt(count(p.OK)),
			styledCount(m, p.Throttled), txt(count(p.Retries)), txt(millis(p.P99MS)), txt(itl), m.progressCell(p),
		})
	}
	if len(rows) == 0 {
		return []string{m.st.faint.Render("no persona has sent a request yet")}
	}
	return table(m.st, cols, rows, width)
}

// progressCell shows what matters for the persona's kind.
func (m Model) progressCell(p PersonaRow) cell {
	var parts []string
	if p.BatchTotal > 0 {
		frac := float64(p.BatchDone) / float64(p.BatchTotal)
		nums := fmt.Sprintf("%s/%s jobs", count(p.BatchDone), count(p.BatchTotal))
		if p.ItemsTotal > 0 {
			frac = float64(p.ItemsDone) / float64(p.ItemsTotal)
			nums = fmt.Sprintf("%s/%s req, %s", count(p.ItemsDone), count(p.ItemsTotal), nums)
		}
		if p.BatchFailed > 0 {
			nums += fmt.Sprintf(", %s failed", count(p.BatchFailed))
		}
		return func(w int) string {
			if barW := w - len(nums) - 1; barW >= 5 {
				filled, empty := blocks(frac, barW)
				return m.st.ok.Render(filled) + m.st.barEmpty.Render(empty) + " " + nums
			}
			return nums
		}
	}
	if p.PipelinesDone > 0 || p.PipelinesBroken > 0 || p.RunsPipelines {
		broken := fmt.Sprintf("%s broken", count(p.PipelinesBroken))
		if p.PipelinesBroken > 0 {
			broken = m.st.bad.Render(broken)
		}
		parts = append(parts, fmt.Sprintf("pipelines %s ok", count(p.PipelinesDone))+" / "+broken)
	}
	if p.NATIPs > 1 || p.BehindNAT {
		thr := fmt.Sprintf("%d/%d IPs throttled", p.NATIPsThrottled, p.NATIPs)
		if p.NATIPsThrottled > 0 {
			thr = m.st.bad.Render(thr)
		}
		parts = append(parts, thr)
	}
	return txt(strings.Join(parts, "  "))
}

// eventsView: latest 429s, breaker trips and errors, newest first.
func (m Model) eventsView(width int) []string {
	if len(m.snap.Events) == 0 {
		return []string{m.st.faint.Render("no 429s, breaker trips or errors yet")}
	}
	n := map[EventKind]int{}
	for _, e := range m.snap.Events {
		n[e.Kind] += max(e.Count, 1)
	}
	lines := []string{m.st.faint.Render(fmt.Sprintf("shown: %d×429, %d breaker changes, %d errors — newest first",
		n[EventThrottled], n[EventBreaker], n[EventError])), ""}
	for _, e := range m.snap.Events {
		kind := fmt.Sprintf("%-7s", e.Kind)
		switch e.Kind {
		case EventThrottled, EventError:
			kind = m.st.bad.Render(kind)
		case EventBreaker:
			kind = m.st.warn.Render(kind)
		}
		line := e.At.UTC().Format("15:04:05") + "  " + kind + "  " + e.Text
		if e.Count > 1 {
			line += m.st.faint.Render(fmt.Sprintf("  ×%d", e.Count))
		}
		lines = append(lines, ansi.Truncate(line, width, "…"))
	}
	return lines
}
