package dashboard

import (
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// View is one of the dashboard's screens.
type View int

// The views, in tab order.
const (
	ViewOverview View = iota
	ViewBackends
	ViewPersonas
	ViewEvents
	viewCount
)

func (v View) String() string {
	return [...]string{"Overview", "Backends", "Personas", "Events"}[v]
}

// historyLen is how many snapshots of rates the sparklines remember.
const historyLen = 120

// Config configures a Model.
type Config struct {
	// Snapshots delivers the snapshots to show, about once a second. The
	// dashboard quits when it is closed.
	Snapshots <-chan Snapshot
	// Stop, when set, asks the run to stop gracefully (called once, from a
	// command, when q or Ctrl-C is pressed); the dashboard then keeps
	// showing the run until Snapshots is closed. Nil means the dashboard
	// only watches: q quits it.
	Stop func()
	// Renderer renders styles (default: lipgloss's, for stdout). Tests pin
	// its colour profile.
	Renderer *lipgloss.Renderer
	// Now is the clock of ticks (default time.Now).
	Now func() time.Time
	// Tick is the interval of clock ticks (default 1 s); < 0 disables them.
	Tick time.Duration
}

// Model is the dashboard's bubbletea model.
type Model struct {
	cfg    Config
	keys   KeyMap
	help   help.Model
	st     styles
	view   View
	width  int
	height int
	now    time.Time

	snap       Snapshot
	have       bool      // a snapshot has arrived
	received   time.Time // m.now when the latest snapshot arrived
	reqHist    []float64 // request rate per snapshot
	tokHist    []float64 // token rate per snapshot
	stopping   bool      // q was pressed with a run attached
	interrupts int       // Ctrl-C presses while stopping
	closed     bool      // Snapshots was closed
}

var _ tea.Model = Model{}

// New returns a dashboard model reading cfg.Snapshots.
func New(cfg Config) Model {
	if cfg.Renderer == nil {
		cfg.Renderer = lipgloss.DefaultRenderer()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Second
	}
	label := "quit"
	if cfg.Stop != nil {
		label = "stop the run"
	}
	m := Model{cfg: cfg, keys: DefaultKeyMap(label), st: newStyles(cfg.Renderer), width: 80, height: 24}
	m.help = help.New()
	m.help.Styles = m.st.help
	return m
}

// Messages.
type (
	snapshotMsg Snapshot
	closedMsg   struct{}
	tickMsg     time.Time
	stopSentMsg struct{}
)

// Init starts reading snapshots and the clock.
func (m Model) Init() tea.Cmd {
	return tea.Batch(waitSnapshot(m.cfg.Snapshots), m.tick())
}

// waitSnapshot waits for the next snapshot; it is re-armed after each one.
func waitSnapshot(ch <-chan Snapshot) tea.Cmd {
	return func() tea.Msg {
		s, ok := <-ch
		if !ok {
			return closedMsg{}
		}
		return snapshotMsg(s)
	}
}

func (m Model) tick() tea.Cmd {
	if m.cfg.Tick < 0 {
		return nil
	}
	now := m.cfg.Now
	return tea.Tick(m.cfg.Tick, func(time.Time) tea.Msg { return tickMsg(now()) })
}

// Update handles a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
	case tickMsg:
		m.now = time.Time(msg)
		return m, m.tick()
	case snapshotMsg:
		m.apply(Snapshot(msg))
		return m, waitSnapshot(m.cfg.Snapshots)
	case closedMsg:
		m.closed = true
		return m, tea.Quit
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

// apply takes a new snapshot in and extends the rate histories.
func (m *Model) apply(s Snapshot) {
	fresh := !m.have || !s.At.Equal(m.snap.At)
	m.snap, m.have = s, true
	if s.At.After(m.now) {
		m.now = s.At
	}
	if fresh { // a resent snapshot (the source did not answer) keeps its age
		m.received = m.now
	}
	m.reqHist = appendCapped(m.reqHist, s.RequestRate)
	m.tokHist = appendCapped(m.tokHist, s.TokenRate)
}

func appendCapped(h []float64, v float64) []float64 {
	h = append(h, v)
	if len(h) > historyLen {
		h = h[len(h)-historyLen:]
	}
	return h
}

func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Stop):
		return m.stop(msg.String() == "ctrl+c")
	case key.Matches(msg, m.keys.Next):
		m.view = (m.view + 1) % viewCount
	case key.Matches(msg, m.keys.Prev):
		m.view = (m.view + viewCount - 1) % viewCount
	case key.Matches(msg, m.keys.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(msg, m.keys.Close):
		m.help.ShowAll = false
	default:
		for i, b := range m.keys.Views {
			if key.Matches(msg, b) {
				m.view = View(i)
			}
		}
	}
	return m, nil
}

// stop asks the run to stop, once. Without a run it quits; a second
// Ctrl-C while stopping leaves the dashboard (the run still finishes).
func (m Model) stop(interrupt bool) (tea.Model, tea.Cmd) {
	if m.cfg.Stop == nil {
		return m, tea.Quit
	}
	if m.stopping {
		if interrupt {
			return m, tea.Quit
		}
		return m, nil
	}
	m.stopping = true
	stop := m.cfg.Stop
	return m, func() tea.Msg { stop(); return stopSentMsg{} }
}

// Stopping reports whether a stop was asked for from the keyboard.
func (m Model) Stopping() bool { return m.stopping }

// Closed reports whether the snapshot stream ended (the run is over).
func (m Model) Closed() bool { return m.closed }

// Last returns the latest snapshot shown.
func (m Model) Last() Snapshot { return m.snap }
