package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
)

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "aiload",
		Short: "Load-test token limits of an AI gateway, size them, and charge teams back",
		Long: `aiload drives a token-limit gateway (a built-in one faithful to Azure API
Management's llm-token-limit, or your own) with realistic LLM traffic, records
every request as a token-metric record, and turns the records into TPM limits,
PTU plans and per-team chargeback reports.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newRunCmd(stdout, stderr),
		newGatewayCmd(stdout, stderr),
		newDashCmd(stdout, stderr),
		newValidateCmd(stdout),
		newSchemaCmd(stdout),
		newVersionCmd(stdout),
		newIngestCmd(stdout, stderr),
		newChargebackCmd(stdout),
		newReportCmd(stdout, stderr),
		newRecommendCmd(stdout),
		newExportCmd(stdout),
		newMergeCmd(stdout),
		newSweepCmd(stdout),
		newFitCmd(stdout, stderr),
		newCalibrateCmd(stdout, stderr),
	)
	usageArgs(root)
	return root
}

// usageArgs makes every command's argument check report a usage error
// (exit status 2), as a bad flag does: a wrong count of arguments, or an
// unknown subcommand.
func usageArgs(c *cobra.Command) {
	check := c.Args
	if c.HasSubCommands() && !c.Runnable() { // aiload, aiload gateway: help, or an unknown subcommand
		check = cobra.NoArgs
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	if check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				var ue usageError
				if errors.As(err, &ue) {
					return err
				}
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
