package main

import (
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
	)
	return root
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
