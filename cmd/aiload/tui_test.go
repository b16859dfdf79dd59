package main

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/reports/dashboard"
	"github.com/aiload/aiload/reports/dashboard/termtest"
)

// childEnv makes the test binary act as the aiload command (see TestMain).
const childEnv = "AILOAD_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// aiload returns the test binary acting as `aiload args...`.
func aiload(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1", "TERM=xterm-256color")
	return cmd
}

// TestRunDashboardInTerminal runs `aiload run` in a real pseudo-terminal:
// the dashboard opens, tab moves to the backends view, q stops the run,
// and the process exits 0 after writing the database and the summary.
func TestRunDashboardInTerminal(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	s := termtest.Start(t, aiload("run", "../../scenarios/quickstart.yaml", "--duration", "60s", "--out", out), 30, 110)
	s.Screen.WaitFor(t, "[Overview]")
	s.Screen.WaitFor(t, "TPM USED / LIMIT")
	s.Screen.WaitFor(t, "research-sub")
	s.Type(t, "\t")
	s.Screen.WaitFor(t, "[Backends]")
	s.Screen.WaitFor(t, "nothing spills over") // quickstart has no PTU backend
	s.Type(t, "q")
	if err := s.Wait(t, 45*time.Second); err != nil {
		t.Fatalf("aiload run exited with %v after q; screen:\n%s", err, s.Screen.Text())
	}
	for _, want := range []string{"interrupted — in-flight requests drained, log flushed", "records:", "database:"} {
		if !strings.Contains(s.Screen.Text(), want) {
			t.Errorf("after the dashboard closed the terminal lacks %q; it showed:\n%s", want, s.Screen.Text())
		}
	}
	dbs, _ := filepath.Glob(filepath.Join(out, "quickstart-*", "aiload.duckdb"))
	if len(dbs) != 1 {
		t.Errorf("database files %v, want one", dbs)
	}
}

// TestDashInTerminal attaches `aiload dash` in a pseudo-terminal to an
// admin listener serving snapshots, moves to the events view and leaves
// with q (exit 0).
func TestDashInTerminal(t *testing.T) {
	t.Parallel()
	at := time.Now()
	admin := httptest.NewServer(dashboard.Handler(func(now time.Time) dashboard.Snapshot {
		return dashboard.Snapshot{
			At: now, Scenario: "gw-1", Phase: dashboard.PhaseAttached, Elapsed: now.Sub(at),
			Teams:  []dashboard.TeamRow{{Team: "research", Subscription: "research-sub", TPMUsed: 9000, TPMLimit: 10000, Throttled1m: 3, ThrottledTotal: 7}},
			Events: []dashboard.Event{{At: at, Kind: dashboard.EventThrottled, Who: "research-sub", Text: "429 research-sub over 10,000 TPM", Count: 3}},
		}
	}, nil))
	defer admin.Close()
	s := termtest.Start(t, aiload("dash", "--gateway", admin.URL), 24, 100)
	s.Screen.WaitFor(t, "9,000/10,000 90%")
	s.Type(t, "\x1b[Z") // shift-tab: from the overview back to events
	s.Screen.WaitFor(t, "[Events]")
	s.Screen.WaitFor(t, "429 research-sub over 10,000 TPM")
	s.Type(t, "q")
	if err := s.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("aiload dash exited with %v after q; screen:\n%s", err, s.Screen.Text())
	}
}
