package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/scenario"
)

func newValidateCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "validate SCENARIO.yaml",
		Short: "Check a scenario file and report every problem with file:line:column",
		Example: `  aiload validate scenarios/quickstart.yaml
  aiload validate my-scenario.yaml || echo "fix it first"   # exit status 2 when invalid`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := scenario.LoadContext(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			noun := "personas"
			if len(sc.Personas) == 1 {
				noun = "persona"
			}
			fmt.Fprintf(stdout, "%s: ok (%d %s, %v)\n", args[0], len(sc.Personas), noun, sc.Duration.D())
			gw := sc.Gateway
			gw.Backends = append(gw.Backends[:0:0], gw.Backends...)
			gw.Defaults()
			for _, w := range gw.Warnings() {
				fmt.Fprintf(stdout, "%s: warning: gateway.%s\n", args[0], w)
			}
			return nil
		},
	}
}
