package dashboard

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// staleAfter is how old the latest snapshot may get before the header says so.
const staleAfter = 3 * time.Second

// View renders the whole screen: header, tabs, status, the current view
// and the help line, fitted to the terminal's width and height.
func (m Model) View() string {
	width := max(m.width, 20)
	top := []string{m.header(width), m.tabs(width)}
	if s := m.status(); s != "" {
		top = append(top, m.st.note.Render(ansi.Truncate(s, width, "…")))
	}
	top = append(top, "")
	foot := m.footer(width)
	room := max(m.height-len(top)-len(foot), 1)
	var body []string
	if m.help.ShowAll {
		body = strings.Split(m.help.FullHelpView(m.keys.FullHelp()), "\n")
	} else {
		body = m.body(width)
	}
	if len(body) > room {
		more := len(body) - room + 1
		body = append(body[:room-1:room-1], m.st.faint.Render(fmt.Sprintf("… %d more lines (enlarge the terminal)", more)))
	}
	lines := append(top, body...)
	if pad := m.height - len(lines) - len(foot); pad > 0 {
		lines = append(lines, make([]string, pad)...)
	}
	lines = append(lines, foot...)
	if len(lines) > m.height && m.height > 0 {
		lines = lines[:m.height] // a tiny terminal: header first
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, width, "…")
	}
	return strings.Join(lines, "\n")
}

func (m Model) body(width int) []string {
	if !m.have {
		return []string{m.st.faint.Render("waiting for the first snapshot…")}
	}
	switch m.view {
	case ViewBackends:
		return m.backendsView(width)
	case ViewPersonas:
		return m.personasView(width)
	case ViewEvents:
		return m.eventsView(width)
	default:
		return m.overview(width)
	}
}

// header is "aiload · scenario · phase · elapsed / total [bar] pct".
func (m Model) header(width int) string {
	s := m.snap
	name := s.Scenario
	if name == "" {
		name = "—"
	}
	left := m.st.title.Render("aiload") + " " + m.st.bold.Render(name) + "  " + m.phaseText()
	var right string
	switch {
	case s.Total > 0:
		frac := float64(s.Elapsed) / float64(s.Total)
		right = fmt.Sprintf("%s / %s", clock(s.Elapsed), clock(s.Total))
		if barW := min(width-ansi.StringWidth(left)-len(right)-8, 30); barW >= 5 {
			filled, empty := blocks(frac, barW)
			right += " " + m.st.ok.Render(filled) + m.st.barEmpty.Render(empty)
		}
		right += " " + percent(min(frac, 1))
	case m.have:
		right = clock(s.Elapsed)
	}
	if stale := m.now.Sub(m.received); m.have && !m.closed && stale >= staleAfter {
		right = m.st.warn.Render("no update for "+clock(stale)) + "  " + right
	}
	gap := width - ansi.StringWidth(left) - ansi.StringWidth(right)
	if gap < 2 {
		return left + "  " + right
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m Model) phaseText() string {
	p := m.snap.Phase
	switch {
	case p == "" && m.stopping:
		return m.st.warn.Render("stopping")
	case p == "":
		return m.st.faint.Render("starting")
	case p == PhaseRunning || p == PhaseAttached:
		if m.stopping {
			return m.st.warn.Render("stopping")
		}
		return m.st.ok.Render(string(p))
	case p == PhaseFailed:
		return m.st.bad.Render(string(p))
	default:
		return m.st.warn.Render(string(p))
	}
}

// tabs shows the views, the current one marked with brackets (readable
// without colour) and highlighted.
func (m Model) tabs(width int) string {
	var parts []string
	for v := range viewCount {
		if v == m.view {
			parts = append(parts, m.st.tabOn.Render("["+v.String()+"]"))
		} else {
			parts = append(parts, m.st.tabOff.Render(" "+v.String()+" "))
		}
	}
	line := strings.Join(parts, " ")
	if ansi.StringWidth(line) > width {
		return m.st.tabOn.Render("["+m.view.String()+"]") + m.st.faint.Render(fmt.Sprintf(" %d/%d  tab: next", m.view+1, viewCount))
	}
	return line
}

// status says what is happening while a run stops, or why it failed.
func (m Model) status() string {
	s := m.snap
	var msg string
	switch {
	case s.Phase == PhaseFailed:
		msg = "Run failed."
	case s.Phase == PhaseDone && s.External:
		msg = "Done: summary written."
	case s.Phase == PhaseDone:
		msg = "Done: log flushed, database and report written."
	case s.Phase == PhaseWriting && s.External:
		msg = "In-flight requests drained; writing the summary…"
	case s.Phase == PhaseWriting:
		msg = "In-flight requests drained, log flushed; writing the database and report…"
	case s.Phase == PhaseDraining && (m.stopping || s.Interrupted):
		msg = "Stopping: no new requests; draining in-flight requests…"
	case s.Phase == PhaseDraining:
		msg = "Time is up: draining in-flight requests…"
	case m.stopping && m.cfg.Stop != nil:
		msg = "Stopping: no new requests; draining in-flight requests…"
	}
	if m.closed && s.Phase != PhaseDone && s.Phase != PhaseFailed {
		msg = "The snapshot stream ended."
	}
	if s.Note != "" {
		if msg != "" {
			msg += " "
		}
		msg += s.Note
	}
	return msg
}

func (m Model) footer(width int) []string {
	if m.help.ShowAll {
		return []string{m.st.faint.Render("? or esc: close help")}
	}
	h := m.help
	h.Width = width
	return []string{h.ShortHelpView(m.keys.ShortHelp())}
}
