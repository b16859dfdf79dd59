package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/scenario"
)

func newSchemaCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of scenario files (for editors)",
		Long: `Schema prints a JSON Schema of aiload scenario files. Save it and point your
editor at it, e.g. with a yaml-language-server modeline at the top of a scenario:

  # yaml-language-server: $schema=./aiload.schema.json`,
		Example: `  aiload schema > aiload.schema.json`,
		Args:    exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			b, err := scenario.JSONSchema()
			if err != nil {
				return fmt.Errorf("build schema: %w", err)
			}
			_, err = fmt.Fprintf(stdout, "%s\n", b)
			return err
		},
	}
}
