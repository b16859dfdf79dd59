package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/calibrate"
)

func newCalibrateCmd(stdout, stderr io.Writer) *cobra.Command {
	var opts calibrate.Options
	cmd := &cobra.Command{
		Use:   "calibrate --target URL --deployment D [--key-env VAR] [--profile balanced|context|generation] [--duration 5m] [--out calib.yaml]",
		Short: "Measure how a real deployment answers, for a mock that answers like it",
		Long: `Calibrate sends a modest, bounded, open-loop load of streamed chat requests
to one deployment (Azure OpenAI, an API Management gateway in front of it,
or any OpenAI-compatible server) and writes what it measured to a
calibration file: time to first token and inter-token latency fitted
against prompt and completion length (least squares, with the residuals'
spread and every data point), tokens per streamed chunk, completion
lengths against max_tokens, reported utilization
(azure-openai-deployment-utilization) against load, and the 429s with
their retry-after. A backend's mock: {calibration: calib.yaml} in a
scenario then answers like that deployment.

Requests have the shape of the profile (balanced: 500 prompt tokens and
max_tokens 500; context: 2000 and 200; generation: 500 and 1000; prompts
vary ±50 % around the profile's length) and every prompt starts with a
random prefix, so no prompt cache answers part of it. They are sent evenly
spaced at --rate, never retried, until --duration or --max-requests, and
requests in flight then get --drain to finish. Ctrl-C stops early and
writes what was measured so far. Other deployments already in --out are
kept. docs/calibration.md says what a few minutes of traffic can and
cannot tell about a deployment.`,
		Example: `  export AZURE_OPENAI_API_KEY=…
  aiload calibrate --target https://contoso.openai.azure.com --key-env AZURE_OPENAI_API_KEY \
      --deployment gpt-4o --profile balanced --duration 5m --out calib.yaml
  aiload calibrate --target http://localhost:8000 --api openai --deployment llama-3.1-8b \
      --profile generation --rate 1 --max-requests 100 --out calib.yaml
  # then, in a scenario: backends: [{name: twin, mock: {calibration: calib.yaml}}]`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCalibrate(cmd.Context(), opts, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Target, "target", "", "the deployment's base URL (https://NAME.openai.azure.com, an API Management gateway, http://host:port)")
	f.StringVar(&opts.API, "api", "azure", "request paths: azure (/openai/deployments/D/chat/completions) or openai (/v1/chat/completions)")
	f.StringVar(&opts.APIVersion, "api-version", "", "Azure api-version (default 2024-10-21)")
	f.StringVar(&opts.KeyEnv, "key-env", "", "environment variable holding the key (api-key header for azure, bearer token for openai)")
	f.StringVar(&opts.KeyHeader, "key-header", "", "header carrying the key for --api azure (default api-key; Ocp-Apim-Subscription-Key for API Management)")
	f.StringVar(&opts.Deployment, "deployment", "", "deployment (azure) or model (openai) to calibrate")
	f.StringVar(&opts.Profile, "profile", "balanced", "request shape: balanced (500/500), context (2000/200) or generation (500/1000)")
	f.DurationVar(&opts.Duration, "duration", 5*time.Minute, fmt.Sprintf("how long to send (at most %s)", calibrate.MaxDuration))
	f.Float64Var(&opts.Rate, "rate", calibrate.DefaultRate, fmt.Sprintf("requests per second, evenly spaced (at most %g)", calibrate.MaxRate))
	f.IntVar(&opts.MaxRequests, "max-requests", calibrate.DefaultMaxRequests, fmt.Sprintf("cap on requests sent (at most %d)", calibrate.MaxRequests))
	f.StringVarP(&opts.Out, "out", "o", "calib.yaml", "calibration file to write")
	f.Uint64Var(&opts.Seed, "seed", 1, "seed of prompt lengths and prefixes")
	f.DurationVar(&opts.Timeout, "timeout", 120*time.Second, "bound on one request")
	f.DurationVar(&opts.Drain, "drain", 30*time.Second, "time requests in flight get to finish at the end")
	return cmd
}

func runCalibrate(ctx context.Context, opts calibrate.Options, stdout, stderr io.Writer) error {
	res, err := calibrate.Run(ctx, opts, stderr)
	var ue *calibrate.UsageError
	if errors.As(err, &ue) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	d := res.Calibration.Deployments[0]
	state := "complete"
	if res.Interrupted {
		state = "interrupted; what was measured"
	}
	fmt.Fprintf(stdout, "calibration of %s (%s): %d requests answered, %d ok, %d throttled -> %s\n",
		d.Name, state, d.Requests, d.OK, d.Throttling.Count, res.Out)
	fmt.Fprintf(stdout, "  ttft ms     p50 %.1f  p95 %.1f  (%.1f + %.4f/prompt token)\n", d.TTFT.Observed.P50, d.TTFT.Observed.P95, d.TTFT.Intercept, d.TTFT.PerPromptToken)
	fmt.Fprintf(stdout, "  itl ms      p50 %.2f  p95 %.2f  (%.2f tokens a chunk)\n", d.ITL.Observed.P50, d.ITL.Observed.P95, d.TokensPerChunk)
	fmt.Fprintf(stdout, "  completion  p50 %.0f  p95 %.0f tokens  (%.0f %% at max_tokens)\n", d.Completion.Observed.P50, d.Completion.Observed.P95, 100*d.Completion.AtMaxShare)
	if u := d.Utilization; u != nil {
		fmt.Fprintf(stdout, "  utilization avg %.1f %%  p95 %.1f %%  capacity ≈ %d TPM\n", u.Observed.Mean, u.Observed.P95, u.CapacityTPM)
	}
	return nil
}
