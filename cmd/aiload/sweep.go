package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/runner"
	"github.com/aiload/aiload/scenario"
)

func newSweepCmd(stdout io.Writer) *cobra.Command {
	var opts runner.SweepOptions
	var seed uint64
	cmd := &cobra.Command{
		Use:   "sweep SCENARIO.yaml --set PATH=V1,V2 [--set …]",
		Short: "Run variants of a scenario on simulated time and compare them",
		Long: `Sweep runs the scenario on the virtual clock (as run --clock virtual does)
once for every combination of the --set values, several variants at a time
on the available cores, and prints one row per variant: requests, 429s in
all and per team, spill-over share (tokens served by non-PTU backends, when
the gateway has a PTU backend), cost (PAYG list price of spilled tokens plus
the pricing section's PTU deployments for the simulated time) and broken
agent pipelines.

A --set path is the dotted path of a key in the scenario file. Where the
path meets a list, the next segment names the item by its name: field
(personas.invoice-batch, gateway.backends.ptu-eastus,
gateway.products.standard), or by its index (personas.0). Values are YAML
scalars separated by commas; missing keys are created.`,
		Example: `  aiload sweep scenarios/mixed-day.yaml --set personas.invoice-batch.at=5s,2m
  aiload sweep scenarios/mixed-day.yaml --set gateway.backends.ptu-eastus.mock.ptu_tpm=100000,150000,200000 \
      --set gateway.products.standard.tokens_per_minute=60000,120000`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scenario = args[0]
			if cmd.Flags().Changed("seed") {
				opts.Seed = &seed
			}
			if err := positive(cmd, "duration", opts.Duration); err != nil {
				return err
			}
			for _, s := range opts.Sets {
				if _, err := scenario.ParseSet(s); err != nil {
					return usageError{err}
				}
			}
			vs, err := runner.Sweep(cmd.Context(), opts)
			var se *scenario.SettingError
			if errors.As(err, &se) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			return runner.WriteSweepTable(stdout, vs)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.Sets, "set", nil, "path=v1,v2,… to vary (repeatable; every combination runs)")
	f.DurationVar(&opts.Duration, "duration", 0, "override the scenario's duration (simulated time)")
	f.Uint64Var(&seed, "seed", 0, "override the scenario's seed")
	f.IntVar(&opts.Parallel, "parallel", 0, "variants run at once (default: the number of cores)")
	return cmd
}
