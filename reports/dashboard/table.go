package dashboard

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// cell renders one table cell at the column's final width.
type cell func(width int) string

// txt is a cell of plain text.
func txt(s string) cell { return func(int) string { return s } }

// styled is a cell of text in a style.
func styled(st lipgloss.Style, s string) cell { return func(int) string { return st.Render(s) } }

// column describes one table column. Columns are dropped, highest drop
// first, until the table fits the terminal; the flex column (at most one)
// then takes the room left, up to max.
type column struct {
	title string
	width int  // minimum width (at least the title's)
	max   int  // flex only: the widest it grows
	right bool // right-aligned
	drop  int  // 0 = never dropped; higher is dropped earlier
	flex  bool
}

const colGap = 2

// table lays rows out under cols within width terminal cells.
func table(st styles, cols []column, rows [][]cell, width int) []string {
	keep := fit(cols, width)
	used := 0
	for _, i := range keep {
		used += max(cols[i].width, lipgloss.Width(cols[i].title)) + colGap
	}
	widths := make([]int, len(cols))
	for _, i := range keep {
		c := cols[i]
		widths[i] = max(c.width, lipgloss.Width(c.title))
		if c.flex {
			widths[i] = min(widths[i]+max(width-used+colGap, 0), max(c.max, widths[i]))
		}
	}
	lines := []string{st.head.Render(layout(keep, cols, widths, func(i int) string { return cols[i].title }))}
	for _, r := range rows {
		lines = append(lines, layout(keep, cols, widths, func(i int) string { return r[i](widths[i]) }))
	}
	return lines
}

// fit returns the indexes of the columns kept within width.
func fit(cols []column, width int) []int {
	dropped := make([]bool, len(cols))
	for {
		total, worst := -colGap, -1
		for i, c := range cols {
			if dropped[i] {
				continue
			}
			total += max(c.width, lipgloss.Width(c.title)) + colGap
			if c.drop > 0 && (worst < 0 || c.drop > cols[worst].drop) {
				worst = i
			}
		}
		if total <= width || worst < 0 {
			break
		}
		dropped[worst] = true
	}
	var keep []int
	for i := range cols {
		if !dropped[i] {
			keep = append(keep, i)
		}
	}
	return keep
}

// layout pads or truncates each kept cell to its width.
func layout(keep []int, cols []column, widths []int, text func(i int) string) string {
	var b strings.Builder
	for k, i := range keep {
		if k > 0 {
			b.WriteString(strings.Repeat(" ", colGap))
		}
		s := ansi.Truncate(text(i), widths[i], "…")
		pad := strings.Repeat(" ", max(widths[i]-lipgloss.Width(s), 0))
		if cols[i].right {
			b.WriteString(pad + s)
		} else {
			b.WriteString(s + pad)
		}
	}
	return strings.TrimRight(b.String(), " ")
}
