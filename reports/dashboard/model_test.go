package dashboard

import (
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"github.com/aiload/aiload/reports/dashboard/termtest"
)

// TestProgramStopsRunOnQ runs the real program on in-memory input and
// output: q asks the run to stop (once), the dashboard shows the stopping
// phases it is sent, and it quits when the stream closes.
func TestProgramStopsRunOnQ(t *testing.T) {
	t.Parallel()
	snaps := make(chan Snapshot)
	var stops atomic.Int32
	inR, inW := io.Pipe()
	out := &termtest.Screen{}
	m := pinned(termenv.Ascii, 100, 24, func() { stops.Add(1) })
	m.cfg.Snapshots = snaps
	p := tea.NewProgram(m, tea.WithInput(inR), tea.WithOutput(out), tea.WithoutSignalHandler())
	done := make(chan tea.Model, 1)
	go func() {
		final, err := p.Run()
		if err != nil {
			t.Errorf("program: %v", err)
		}
		done <- final
	}()
	run := script()
	snaps <- run[0]
	out.WaitFor(t, "research-sub")
	io.WriteString(inW, "\t") // tab: backends
	out.WaitFor(t, "PAYG spill-over")
	io.WriteString(inW, "q")
	out.WaitFor(t, "Stopping: no new requests")
	io.WriteString(inW, "q") // a second q changes nothing
	last := run[1]
	last.Phase = PhaseWriting
	snaps <- last
	out.WaitFor(t, "writing the database and report")
	last.Phase = PhaseDone
	snaps <- last
	close(snaps)
	select {
	case final := <-done:
		if !final.(Model).Closed() {
			t.Errorf("program ended before the snapshot stream closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("program did not quit after the stream closed")
	}
	if n := stops.Load(); n != 1 {
		t.Errorf("stop called %d times, want 1", n)
	}
}

// TestWatchOnlyQuitsOnQ: without a run to stop, q quits at once.
func TestWatchOnlyQuitsOnQ(t *testing.T) {
	t.Parallel()
	m := pinned(termenv.Ascii, 80, 24, nil)
	_, cmd := m.Update(keyQ)
	if cmd == nil {
		t.Fatal("q returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("q in watch-only mode did not quit")
	}
}

// TestSecondCtrlCLeaves: Ctrl-C stops the run; a second one leaves the
// dashboard while the run finishes.
func TestSecondCtrlCLeaves(t *testing.T) {
	t.Parallel()
	stopped := false
	m := pinned(termenv.Ascii, 80, 24, func() { stopped = true })
	next, cmd := m.Update(ctrlC)
	m = next.(Model)
	if !m.Stopping() || cmd == nil {
		t.Fatalf("first Ctrl-C: stopping=%v cmd=%v", m.Stopping(), cmd)
	}
	cmd()
	if !stopped {
		t.Fatal("first Ctrl-C did not call stop")
	}
	_, cmd = m.Update(ctrlC)
	if cmd == nil {
		t.Fatal("second Ctrl-C returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("second Ctrl-C did not quit")
	}
}

// TestResize re-lays the frame out at each new size.
func TestResize(t *testing.T) {
	t.Parallel()
	m := feed(t, pinned(termenv.Ascii, 120, 30, nil), snapshots(script())...)
	for _, size := range [][2]int{{120, 30}, {72, 20}, {30, 8}, {200, 50}, {20, 3}} {
		m = feed(t, m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for v := range viewCount {
			m.view = v
			checkFits(t, m.View(), max(size[0], 20), size[1])
		}
	}
}

// TestHelpToggles: ? opens the full help, ? or esc closes it.
func TestHelpToggles(t *testing.T) {
	t.Parallel()
	esc := tea.KeyMsg{Type: tea.KeyEsc}
	m := feed(t, pinned(termenv.Ascii, 100, 24, nil), snapshotMsg(script()[0]))
	for i, step := range []struct {
		key  tea.Msg
		open bool
	}{{keyHelp, true}, {keyHelp, false}, {keyHelp, true}, {esc, false}, {esc, false}} {
		m = feed(t, m, step.key)
		if open := strings.Contains(m.View(), "close help"); open != step.open {
			t.Errorf("step %d: help open %v, want %v", i, open, step.open)
		}
	}
}
