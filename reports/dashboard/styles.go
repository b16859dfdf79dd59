package dashboard

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
)

// styles are the dashboard's styles, bound to one renderer so that its
// colour profile (pinned in tests, plain when headless) applies to all.
type styles struct {
	title, faint, bold lipgloss.Style
	tabOn, tabOff      lipgloss.Style
	head               lipgloss.Style
	ok, warn, bad      lipgloss.Style
	note               lipgloss.Style
	barEmpty           lipgloss.Style
	help               help.Styles
}

func newStyles(r *lipgloss.Renderer) styles {
	// A fixed grey: an adaptive colour would make lipgloss ask the terminal
	// for its background, which stalls on terminals that do not answer.
	faint := r.NewStyle().Foreground(lipgloss.Color("244"))
	return styles{
		title:    r.NewStyle().Bold(true).Foreground(lipgloss.Color("63")),
		faint:    faint,
		bold:     r.NewStyle().Bold(true),
		tabOn:    r.NewStyle().Bold(true).Foreground(lipgloss.Color("230")).Background(lipgloss.Color("63")),
		tabOff:   faint,
		head:     r.NewStyle().Bold(true),
		ok:       r.NewStyle().Foreground(lipgloss.Color("42")),
		warn:     r.NewStyle().Foreground(lipgloss.Color("214")),
		bad:      r.NewStyle().Foreground(lipgloss.Color("203")),
		note:     r.NewStyle().Bold(true).Foreground(lipgloss.Color("214")),
		barEmpty: faint,
		help: help.Styles{
			ShortKey:       r.NewStyle().Foreground(lipgloss.Color("250")),
			ShortDesc:      faint,
			ShortSeparator: faint,
			Ellipsis:       faint,
			FullKey:        r.NewStyle().Foreground(lipgloss.Color("250")),
			FullDesc:       faint,
			FullSeparator:  faint,
		},
	}
}

// level picks ok, warn or bad for a utilisation (0..1+).
func (s styles) level(frac float64) lipgloss.Style {
	switch {
	case frac >= 0.9:
		return s.bad
	case frac >= 0.7:
		return s.warn
	default:
		return s.ok
	}
}

// bar draws a utilisation bar of width cells, coloured by level.
func (s styles) bar(frac float64, width int) string {
	filled, empty := blocks(frac, width)
	return s.level(frac).Render(filled) + s.barEmpty.Render(empty)
}
