package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// linesSink keeps records as JSON lines.
type linesSink struct{ lines [][]byte }

func (s *linesSink) Write(r *record.Record) error {
	b, err := json.Marshal(r)
	s.lines = append(s.lines, b)
	return err
}

// TestVirtualCallMatchesWire: a simulation whose requests go in process as
// parsed values (the default) writes the same records as one whose
// requests go as HTTP with JSON bodies through the gateway's and the
// mocks' handlers, line for line, but for a stream's ttft_ms (the first
// chunk in process; on the wire path a simulated stream arrives whole),
// and the load generator and the mocks count the same. The scenarios
// cover every policy and fault a simulation meets.
func TestVirtualCallMatchesWire(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		dur  time.Duration
	}{{"testdata/paths.yaml", 0}, {"testdata/ops.yaml", 0}, {"testdata/apimwire.yaml", 0}, {"../scenarios/mixed-day.yaml", 20 * time.Minute}} {
		sim := func(wire bool) (*linesSink, *Simulation) {
			sc, err := scenario.Load(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if tc.dur > 0 {
				sc.Duration = loadgen.Duration(tc.dur)
			}
			sink := &linesSink{}
			s, err := SimulateWith(context.Background(), sc, sink, SimulateOptions{RunID: "r", Wire: wire})
			if err != nil {
				t.Fatalf("%s: %v", tc.file, err)
			}
			return sink, s
		}
		wire, ws := sim(true)
		call, cs := sim(false)
		if len(wire.lines) != len(call.lines) || len(wire.lines) < 500 {
			t.Fatalf("%s: %d records on the wire path, %d in process", tc.file, len(wire.lines), len(call.lines))
		}
		outcomes := map[string]int{}
		for i := range wire.lines {
			var w, c record.Record
			_ = json.Unmarshal(wire.lines[i], &w)
			_ = json.Unmarshal(call.lines[i], &c)
			outcomes[w.Persona+"/"+string(w.Outcome)+"/"+w.Backend]++
			if w.Stream && c.Stream && c.Outcome == record.OutcomeOK {
				if c.TTFTMS <= 0 || c.TTFTMS > w.TTFTMS {
					t.Errorf("%s line %d: stream ttft %v ms in process, %v ms whole on the wire path", tc.file, i+1, c.TTFTMS, w.TTFTMS)
				}
				w.TTFTMS = c.TTFTMS
			}
			if a, b := recordLine(w), recordLine(c); !bytes.Equal(a, b) {
				t.Fatalf("%s line %d differs:\nwire:       %s\nin process: %s", tc.file, i+1, a, b)
			}
		}
		t.Logf("%s: %d records, outcomes %v", tc.file, len(wire.lines), outcomes)
		wt, ct := ws.Load.Totals(), cs.Load.Totals()
		if wt.Sent != ct.Sent || wt.OK != ct.OK || wt.Throttled != ct.Throttled || wt.Errors != ct.Errors ||
			wt.PromptTokens != ct.PromptTokens || wt.CompletionTokens != ct.CompletionTokens {
			t.Errorf("%s: load generator saw %+v on the wire path, %+v in process", tc.file, wt, ct)
		}
		for p, u := range ws.Served {
			if cs.Served[p] != u {
				t.Errorf("%s: mocks served %s %+v on the wire path, %+v in process", tc.file, p, u, cs.Served[p])
			}
		}
		if tc.file == "testdata/apimwire.yaml" {
			apimWireSeen(t, wire.lines, ws)
		}
	}
}

// apimWireSeen checks that the wire: apim scenario did what it is for: the
// gateway refused the small product with 429s whose wait the callers read
// from the body (the header was renamed), and PTU refusals spilled to PAYG.
func apimWireSeen(t *testing.T, lines [][]byte, s *Simulation) {
	t.Helper()
	spilled := 0
	for _, l := range lines {
		var r record.Record
		_ = json.Unmarshal(l, &r)
		if len(r.BackendAttempts) > 1 && r.BackendAttempts[0].Backend == "ptu" && r.BackendAttempts[0].Status == 429 {
			spilled++
		}
	}
	for _, p := range s.Load.Personas {
		if p.Name == "app" && (p.Throttled == 0 || p.ThrottledWithRetryAfter != p.Throttled) {
			t.Errorf("app: %d 429s, %d with a wait read; want some, all read from the body", p.Throttled, p.ThrottledWithRetryAfter)
		}
	}
	if spilled == 0 {
		t.Errorf("no PTU 429 spilled to PAYG")
	}
}

func recordLine(r record.Record) []byte {
	b, _ := json.Marshal(r)
	return b
}
