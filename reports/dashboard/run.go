package dashboard

import (
	"fmt"
	"io"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// Terminal is where the dashboard draws and reads keys.
type Terminal struct {
	In  io.Reader
	Out io.Writer
}

// Run shows the dashboard on term until snapshots is closed or the user
// quits. stop is called (once) when the user asks the run to stop; nil
// means the dashboard only watches and q quits it. Signals are left to
// the caller, who stops the producer of snapshots on them.
func Run(term Terminal, snapshots <-chan Snapshot, stop func()) error {
	m := New(Config{Snapshots: snapshots, Stop: stop, Renderer: lipgloss.NewRenderer(term.Out)})
	p := tea.NewProgram(m,
		tea.WithInput(term.In), tea.WithOutput(term.Out),
		tea.WithAltScreen(), tea.WithoutSignalHandler())
	if _, err := p.Run(); err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}
