package main

import (
	"errors"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/reports/dashboard"
)

func newDashCmd(stdout, stderr io.Writer) *cobra.Command {
	var p dashboard.Poller
	var noTUI bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "dash --gateway URL",
		Short: "Watch a running gateway live in the terminal",
		Long: `Dash attaches the live dashboard to a running aiload gateway: it polls the
snapshot endpoint (GET /admin/snapshot) of the gateway's admin listener once
a second and shows subscriptions with their TPM against the limit, 429s,
latency, tokens and cost, the backend pool with breaker states, and the
latest 429s and errors. q leaves; the gateway keeps running. When stdout is
not a terminal, or with --no-tui, plain progress lines go to stderr until
Ctrl-C.`,
		Example: `  aiload dash --gateway http://127.0.0.1:9090
  aiload dash --gateway http://127.0.0.1:9090 --no-tui --progress 10s`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p.URL == "" {
				return usageError{errors.New("--gateway is required (the gateway's admin listener, e.g. http://127.0.0.1:9090)")}
			}
			var term *dashboard.Terminal
			if !noTUI {
				term = terminal(cmd.InOrStdin(), stdout)
			}
			return dashboard.Watch(cmd.Context(), p, term, stderr, every)
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.URL, "gateway", "", "base URL of the gateway's admin listener")
	f.DurationVar(&p.Every, "every", time.Second, "polling interval")
	f.DurationVar(&every, "progress", 0, "interval of progress lines without the dashboard (default 5s)")
	f.BoolVar(&noTUI, "no-tui", false, "print progress lines instead of the live dashboard")
	return cmd
}
