package dashboard

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

var update = flag.Bool("update", false, "rewrite the golden frames in testdata/")

// t0 is the pinned start of the scripted run.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// script is a scripted run of ten snapshots, one a second: research
// climbs to its TPM limit and gets 429s, the PTU backend fills and spills
// to PAYG, the agent pipelines and a batch job make progress.
func script() []Snapshot {
	var out []Snapshot
	for i := 1; i <= 10; i++ {
		n := int64(i)
		s := Snapshot{
			At: t0.Add(time.Duration(i) * time.Second), Scenario: "quickstart", Phase: PhaseRunning,
			Elapsed: time.Duration(i) * time.Second, Total: 60 * time.Second,
			RequestRate: float64(2 + i%4), TokenRate: float64(900 + 150*i),
			Totals: Totals{Requests: 12 * n, OK: 10 * n, Throttled: 2 * n, Tokens: 1400 * n, CostUSD: 0.00042 * float64(n), CostKnown: true},
			Client: &ClientTotals{Sent: 12 * n, OK: 10 * n, Throttled: 2 * n, Retries: n, GaveUp: n / 3, InFlight: 2},
			Teams: []TeamRow{
				{Team: "marketing", Subscription: "marketing-sub", Product: "standard", TPMUsed: 300 * n, TPMLimit: 60000, Requests: 2 * n, Tokens: 300 * n, P50MS: 310, P99MS: 480, CostUSD: 0.00009 * float64(n), CostKnown: true},
				{Team: "research", Subscription: "research-sub", Product: "developer", TPMUsed: min(1000*n, 10000), TPMLimit: 10000, Requests: 6 * n, Throttled1m: 2 * n, ThrottledTotal: 2 * n, Tokens: 800 * n, P50MS: 402.4, P99MS: 911, CostUSD: 0.00024 * float64(n), CostKnown: true},
				{Team: "support", Subscription: "support-sub", Product: "standard", TPMUsed: 300 * n, TPMLimit: 60000, Requests: 4 * n, Tokens: 300 * n, P50MS: 250, P99MS: 390, CostUSD: 0.00009 * float64(n), CostKnown: true},
			},
			Backends: []BackendRow{
				{Name: "ptu-eastus", Tier: "ptu", Priority: 1, Requests: 9 * n, TPM: min(1100*n, 10000), CapacityTPM: 10000, Tokens: 1100 * n, Share: 0.79, Breaker: BreakerClosed,
					UtilizationCount: 9 * n, UtilizationAvg: 71.4, UtilizationP95: 98.2},
				{Name: "payg-westus", Tier: "payg", Priority: 2, Requests: n, TPM: 300 * n, Tokens: 300 * n, Share: 0.21, Breaker: BreakerHalfOpen, Trips: 1, Errors: 1},
			},
			Personas: []PersonaRow{
				{Persona: "office-users", Team: "marketing", Kind: "nat", BehindNAT: true, Requests: 2 * n, OK: 2 * n, NATIPs: 4, NATIPsThrottled: 1, P99MS: 480, ITLP50MS: 41, ITLP99MS: 118},
				{Persona: "research-agents", Team: "research", Kind: "agent", RunsPipelines: true, Requests: 6 * n, OK: 4 * n, Throttled: 2 * n, Retries: n, PipelinesDone: n, PipelinesBroken: n / 4, P99MS: 911},
				{Persona: "nightly-embed", Team: "support", Kind: "batch", Requests: 4 * n, OK: 4 * n, BatchDone: n / 2, BatchTotal: n/2 + 1, BatchFailed: n / 5, ItemsDone: 38 * n, ItemsTotal: 100 * (n/2 + 1), P99MS: 390},
			},
			Events: []Event{
				{At: t0.Add(time.Duration(i) * time.Second), Kind: EventThrottled, Who: "research-sub", Text: "429 research-sub over 10,000 TPM, retry after 7s", Count: 2},
				{At: t0.Add(4 * time.Second), Kind: EventBreaker, Who: "payg-westus", Text: "payg-westus breaker open for 30s (3 failures in 10s)"},
				{At: t0.Add(3 * time.Second), Kind: EventError, Who: "support-sub", Text: "502 backend_error support-sub via payg-westus"},
			},
		}
		out = append(out, s)
	}
	return out
}

// pinned returns a model with a fixed colour profile, clock and size.
func pinned(profile termenv.Profile, width, height int, stop func()) Model {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(profile)
	r.SetHasDarkBackground(true)
	m := New(Config{Renderer: r, Now: func() time.Time { return t0 }, Tick: -1, Stop: stop})
	next, _ := m.Update(tea.WindowSizeMsg{Width: width, Height: height})
	return next.(Model)
}

// feed applies messages in order and returns the model.
func feed(t *testing.T, m Model, msgs ...tea.Msg) Model {
	t.Helper()
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

func snapshots(ss []Snapshot) []tea.Msg {
	var msgs []tea.Msg
	for _, s := range ss {
		msgs = append(msgs, snapshotMsg(s))
	}
	return msgs
}

var (
	tab      = tea.KeyMsg{Type: tea.KeyTab}
	shiftTab = tea.KeyMsg{Type: tea.KeyShiftTab}
	keyQ     = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")}
	keyHelp  = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("?")}
	ctrlC    = tea.KeyMsg{Type: tea.KeyCtrlC}
)

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("frame %s differs from %s (go test ./reports/dashboard -update to accept)\n--- got:\n%s\n--- want:\n%s", name, path, got, want)
	}
}

// TestGoldenFrames renders each view after the scripted run, at pinned
// sizes and colour profiles.
func TestGoldenFrames(t *testing.T) {
	t.Parallel()
	run := snapshots(script())
	cases := []struct {
		name          string
		profile       termenv.Profile
		width, height int
		keys          []tea.Msg
	}{
		// The four views at a common terminal size, without colour.
		{"overview-100x24", termenv.Ascii, 100, 24, nil},
		{"backends-100x24", termenv.Ascii, 100, 24, []tea.Msg{tab}},
		{"personas-100x24", termenv.Ascii, 100, 24, []tea.Msg{tab, tab}},
		{"events-100x24", termenv.Ascii, 100, 24, []tea.Msg{tab, tab, tab}},
		// shift-tab from the overview wraps round to the events view.
		{"events-shift-tab-100x24", termenv.Ascii, 100, 24, []tea.Msg{shiftTab}},
		// A wide terminal: bars grow to their maximum.
		{"overview-160x30", termenv.Ascii, 160, 30, nil},
		{"personas-160x30", termenv.Ascii, 160, 30, []tea.Msg{tab, tab}},
		// Narrow terminals drop columns, stack sparklines and shorten tabs.
		{"overview-60x20", termenv.Ascii, 60, 20, nil},
		{"personas-60x20", termenv.Ascii, 60, 20, []tea.Msg{tab, tab}},
		{"overview-40x12", termenv.Ascii, 40, 12, nil},
		// A short terminal cuts the body and says how much is hidden.
		{"overview-100x10", termenv.Ascii, 100, 10, nil},
		// The full help screen.
		{"help-100x24", termenv.Ascii, 100, 24, []tea.Msg{keyHelp}},
		// Colour, pinned to 256 colours.
		{"overview-ansi256-100x24", termenv.ANSI256, 100, 24, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := pinned(c.profile, c.width, c.height, func() {})
			m = feed(t, m, run...)
			m = feed(t, m, c.keys...)
			frame := m.View()
			golden(t, c.name, frame)
			checkFits(t, frame, c.width, c.height)
		})
	}
}

// checkFits fails when a frame is wider or taller than the terminal.
func checkFits(t *testing.T, frame string, width, height int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if len(lines) > height {
		t.Errorf("frame has %d lines, terminal %d", len(lines), height)
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w > width {
			t.Errorf("line %d is %d cells wide, terminal %d: %q", i+1, w, width, l)
		}
	}
}

// TestGoldenStopping walks the phases a run goes through after q.
func TestGoldenStopping(t *testing.T) {
	t.Parallel()
	run := script()
	last := run[len(run)-1]
	phase := func(p Phase, note string) tea.Msg {
		s := last
		s.Phase, s.Note = p, note
		return snapshotMsg(s)
	}
	steps := []struct {
		name string
		msg  tea.Msg
	}{
		{"stop-1-asked", keyQ},
		{"stop-2-draining", phase(PhaseDraining, "")},
		{"stop-3-writing", phase(PhaseWriting, "")},
		{"stop-4-done", phase(PhaseDone, "Records: 120 in runs/quickstart/tokens.jsonl")},
	}
	m := feed(t, pinned(termenv.Ascii, 100, 16, func() {}), snapshots(run)...)
	for _, s := range steps {
		m = feed(t, m, s.msg)
		golden(t, s.name, m.View())
	}
}

// TestStaleHeader shows how long the dashboard has had no snapshot.
func TestStaleHeader(t *testing.T) {
	t.Parallel()
	run := script()
	m := feed(t, pinned(termenv.Ascii, 100, 24, nil), snapshotMsg(run[0]), tickMsg(run[0].At.Add(7*time.Second)))
	header := strings.Split(m.View(), "\n")[0]
	if !strings.Contains(header, "no update for 0:07") {
		t.Errorf("header %q; want it to say there was no update for 0:07", header)
	}
	m = feed(t, m, snapshotMsg(run[1]))
	if header := strings.Split(m.View(), "\n")[0]; strings.Contains(header, "no update") {
		t.Errorf("header %q still stale after a new snapshot", header)
	}
}

func ExampleProgressLine() {
	fmt.Println(ProgressLine(script()[9]))
	// Output: aiload:    10s/1m0s  sent 120  ok 100  429 20  errors 0  in flight 2  4.0 req/s  2,400 tok/s  $0.0042
}

// TestRecordsLostShow: records the gateway could not write show on the
// progress line and on the dashboard's totals line.
func TestRecordsLostShow(t *testing.T) {
	t.Parallel()
	s := script()[9]
	s.Totals.RecordsDropped = 1234
	if line := ProgressLine(s); !strings.HasSuffix(line, "  RECORDS LOST 1234") {
		t.Errorf("progress line %q lacks RECORDS LOST 1234", line)
	}
	m := feed(t, pinned(termenv.Ascii, 120, 40, nil), snapshotMsg(s))
	if v := m.View(); !strings.Contains(v, "records lost 1,234") {
		t.Errorf("dashboard lacks records lost 1,234:\n%s", v)
	}
}

// TestPlainLines: the headless progress lines for the scripted run, every
// 3 s of elapsed time, with the phase lines of a stop.
func TestPlainLines(t *testing.T) {
	t.Parallel()
	ch := make(chan Snapshot, 20)
	run := script()
	for _, s := range run {
		ch <- s
	}
	last := run[len(run)-1]
	for _, p := range []Phase{PhaseDraining, PhaseWriting, PhaseDone} {
		last.Phase = p
		ch <- last
	}
	close(ch)
	var b strings.Builder
	Plain(&b, ch, 3*time.Second)
	golden(t, "plain-every-3s", b.String())
	if strings.Contains(b.String(), "\x1b") {
		t.Errorf("plain lines carry escape sequences")
	}
}

// TestStatusInterrupted: a run stopped by a signal (not from the keyboard)
// says it is stopping, not that its time is up.
func TestStatusInterrupted(t *testing.T) {
	t.Parallel()
	s := script()[3]
	s.Phase = PhaseDraining
	m := feed(t, pinned(termenv.Ascii, 100, 24, func() {}), snapshotMsg(s))
	if v := m.View(); !strings.Contains(v, "Time is up: draining") {
		t.Errorf("a run at its end:\n%s", v)
	}
	s.Interrupted = true
	m = feed(t, m, snapshotMsg(s))
	if v := m.View(); !strings.Contains(v, "Stopping: no new requests; draining") {
		t.Errorf("an interrupted run:\n%s", v)
	}
}

// TestBackendsWithoutPTU: a pool of PAYG backends alone has no spill-over
// to show (every token is PAYG, none spilled from a PTU deployment).
func TestBackendsWithoutPTU(t *testing.T) {
	t.Parallel()
	s := script()[9]
	s.Backends = []BackendRow{{Name: "payg-east", Tier: "payg", Priority: 1, Requests: 10, Tokens: 5000, Share: 1}}
	v := feed(t, pinned(termenv.Ascii, 100, 24, nil), snapshotMsg(s), tab).View()
	if strings.Contains(v, "spill-over:") || !strings.Contains(v, "no PTU backend: every token is PAYG") {
		t.Errorf("backends view of a PAYG-only pool:\n%s", v)
	}
}
