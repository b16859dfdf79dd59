package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/reports/dashboard"
	"github.com/aiload/aiload/runner"
)

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	var opts runner.Options
	var seed uint64
	var noTUI bool
	var shard string
	cmd := &cobra.Command{
		Use:   "run SCENARIO.yaml",
		Short: "Run a scenario against the built-in gateway and mock backend",
		Long: `Run starts the built-in mock LLM backend and the enforcement gateway on
loopback, drives them with the scenario's personas for its duration, writes
every request's token-metric record to runs/<scenario>-<UTC time>/tokens.jsonl,
loads the records into aiload.duckdb beside it, and prints a summary per
subscription. When stdin and stdout are a terminal, a live dashboard shows
the run (tab switches views, ? shows the keys); otherwise, or with --no-tui,
plain progress lines go to stderr. q in the dashboard, or Ctrl-C, stops the
load early: in-flight requests drain, the log is flushed, and the database
and summary are still written; a second Ctrl-C ends the process at once.

summary.json is rewritten atomically as the run goes (every second of the
load, when it ends, after the database), so a second signal or a later
failure leaves the latest; its "status" says how far the run got. When
records cannot be written (a full disk), the load stops at once and the run
fails (exit status 1). A chargeback report that cannot be written fails the
run only after the database, summary.json and the printed summary.`,
		Example: `  aiload run scenarios/quickstart.yaml
  aiload run scenarios/quickstart.yaml --duration 20s --seed 7 --out /tmp/runs
  aiload run against-azure.yaml --record calib.yaml   # target: {url: …}: also a calibration file`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scenario = args[0]
			if cmd.Flags().Changed("seed") {
				opts.Seed = &seed
			}
			if err := positive(cmd, "duration", opts.Duration); err != nil {
				return err
			}
			if err := positive(cmd, "progress", opts.ProgressEvery); err != nil {
				return err
			}
			if opts.Clock != "" && opts.Clock != "wall" && opts.Clock != "virtual" {
				return usageError{fmt.Errorf("--clock: want wall or virtual, got %q", opts.Clock)}
			}
			if shard != "" {
				sh, err := loadgen.ParseShard(shard)
				if err != nil {
					return usageError{err}
				}
				opts.Shard = sh
			}
			if !noTUI {
				opts.Terminal = terminal(cmd.InOrStdin(), stdout)
			}
			_, err := runner.Run(cmd.Context(), opts, stdout, stderr)
			if errors.Is(err, runner.ErrRecordEmbedded) {
				return usageError{err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.OutDir, "out", "runs", "folder in which the run folder is created")
	f.DurationVar(&opts.Duration, "duration", 0, "override the scenario's duration (e.g. 20s, 5m)")
	f.Uint64Var(&seed, "seed", 0, "override the scenario's seed")
	f.DurationVar(&opts.ProgressEvery, "progress", 0, "interval of progress lines (default 5s)")
	f.BoolVar(&noTUI, "no-tui", false, "print progress lines instead of the live dashboard")
	f.StringVar(&opts.Clock, "clock", "", "wall (real time) or virtual (simulated time: a day of traffic in seconds); overrides the scenario's clock")
	f.StringVar(&shard, "shard", "", "run only shard i of n of the users (e.g. 2/4), for load from several machines")
	f.StringVar(&opts.Record, "record", "", "write what the run measured of a real deployment (target.url) to this calibration file, as aiload calibrate does")
	return cmd
}

// positive refuses a duration flag given as zero or less (which would
// otherwise be taken as "not given").
func positive(cmd *cobra.Command, name string, d time.Duration) error {
	if cmd.Flags().Changed(name) && d <= 0 {
		return usageError{fmt.Errorf("--%s: must be > 0, got %v", name, d)}
	}
	return nil
}

// terminal returns in and out as the dashboard's terminal when both are
// one, else nil (pipes, CI, redirected output).
func terminal(in io.Reader, out io.Writer) *dashboard.Terminal {
	fi, ok1 := in.(*os.File)
	fo, ok2 := out.(*os.File)
	if !ok1 || !ok2 || !term.IsTerminal(fi.Fd()) || !term.IsTerminal(fo.Fd()) {
		return nil
	}
	return &dashboard.Terminal{In: fi, Out: fo}
}
