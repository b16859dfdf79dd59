package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/apimxml"
	"github.com/aiload/aiload/gateway/otelmetrics"
	"github.com/aiload/aiload/gateway/store/redisstore"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/reports/dashboard/gatewayview"
)

func newGatewayCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run the enforcement gateway on its own",
	}
	cmd.AddCommand(newGatewayServeCmd(stderr), newGatewayCheckCmd(stdout))
	return cmd
}

func newGatewayCheckCmd(stdout io.Writer) *cobra.Command {
	var path string
	var policies []string
	cmd := &cobra.Command{
		Use:   "check --config gateway.yaml [--policy policy.xml]",
		Short: "Check a gateway config file (and API Management policy documents) and report every problem with file:line:column",
		Example: `  aiload gateway check --config docs/gateway.example.yaml
  aiload gateway check --config policy.xml                       # an API Management policy document alone
  aiload gateway check --config gateway.yaml --policy policy.xml --policy product:standard=standard.xml`,
		Args: exactArgs(0),
		RunE: func(_ *cobra.Command, _ []string) error {
			if path == "" {
				return usageError{errors.New("--config is required")}
			}
			if strings.HasSuffix(strings.ToLower(path), ".xml") && len(policies) == 0 {
				pol, warnings, err := apimxml.ReadFile(path)
				printWarnings(stdout, warnings)
				if err != nil {
					return usageError{err}
				}
				fmt.Fprintf(stdout, "%s: ok (%s); serve it with --config gateway.yaml --policy %s (the YAML holds subscriptions and backends)\n", path, apimxml.Describe(pol), path)
				return nil
			}
			files, err := policyFiles(policies)
			if err != nil {
				return usageError{err}
			}
			cfg, warnings, err := apimxml.Load(path, files)
			printWarnings(stdout, warnings)
			if err != nil {
				return usageError{err}
			}
			fmt.Fprintf(stdout, "%s: ok (%d products, %d subscriptions, %d backends)\n", path, len(cfg.Products), len(cfg.Subscriptions), len(cfg.Backends))
			if cfg.APIM != nil {
				for _, line := range describeScopes(cfg) {
					fmt.Fprintf(stdout, "  %s\n", line)
				}
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintf(stdout, "%s: warning: %s\n", path, w)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "gateway config file (YAML), or an API Management policy document (.xml) to check alone")
	cmd.Flags().StringArrayVar(&policies, "policy", nil, policyFlagHelp)
	return cmd
}

// policyFlagHelp describes --policy.
const policyFlagHelp = "API Management policy document applied on top of the config: FILE (all APIs), product:NAME=FILE or api:NAME=FILE; repeatable"

// policyFiles parses the --policy values.
func policyFiles(values []string) ([]apimxml.PolicyFile, error) {
	var files []apimxml.PolicyFile
	for _, v := range values {
		f, err := apimxml.ParsePolicyFlag(v)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func printWarnings(w io.Writer, warnings []apimxml.Warning) {
	for _, x := range warnings {
		fmt.Fprintf(w, "warning: %s\n", x)
	}
}

func newGatewayServeCmd(stderr io.Writer) *cobra.Command {
	var opts gateway.ServeOptions
	var redisURL, failMode string
	var policies []string
	cmd := &cobra.Command{
		Use:   "serve --config gateway.yaml [--policy policy.xml]",
		Short: "Serve the gateway in front of real OpenAI-compatible backends",
		Long: `Serve runs the enforcement gateway (subscription keys, validate-jwt,
llm-token-limit policies, backend pool with circuit breakers) in front of the
backends in the config file, appends one token-metric record per request to
the log (records that cannot be written wait in memory while writing is
retried; see --on-record-error), and serves Prometheus metrics (/metrics),
/healthz and the live dashboard's snapshot (/admin/snapshot, for aiload dash)
on a separate admin listener (loopback by default). Ctrl-C drains in-flight requests and flushes
the log. See docs/gateway.md for the config reference.`,
		Example: `  aiload gateway serve --config gateway.yaml
  aiload gateway serve --config gateway.yaml --listen :8080 --admin 127.0.0.1:9090 --log /var/log/aiload/tokens.jsonl
  aiload gateway serve --config gateway.yaml --policy policy.xml            # API Management policies on top
  aiload gateway serve --config gateway.yaml --redis redis://10.0.0.5:6379/0   # several instances, one limit
  aiload gateway serve --config gateway.yaml --on-record-error refuse            # no request goes unmetered
  aiload dash --gateway http://127.0.0.1:9090`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Config == "" {
				return usageError{errors.New("--config is required")}
			}
			if strings.HasSuffix(strings.ToLower(opts.Config), ".xml") {
				return usageError{fmt.Errorf("%s is an API Management policy document: give the gateway config (subscriptions, backends) with --config and the document with --policy %s", opts.Config, opts.Config)}
			}
			files, err := policyFiles(policies)
			if err != nil {
				return usageError{err}
			}
			opts.Load = func(path string) (gateway.Config, error) {
				cfg, warnings, err := apimxml.Load(path, files)
				printWarnings(stderr, warnings)
				return cfg, err
			}
			if opts.OnRecordError != gateway.RecordErrorServe && opts.OnRecordError != gateway.RecordErrorRefuse {
				return usageError{fmt.Errorf("--on-record-error must be serve or refuse, got %q", opts.OnRecordError)}
			}
			for _, p := range (&otelmetrics.Config{Endpoint: opts.OTLP, Interval: opts.OTLPInterval}).Validate() {
				flag := map[string]string{"endpoint": "--otlp", "interval": "--otlp-interval"}[p.Field]
				return usageError{fmt.Errorf("%s %s", flag, p.Msg)}
			}
			var follow func(*gateway.Gateway)
			opts.Observe = func(cfg gateway.Config) (record.Sink, http.Handler) {
				sink, admin, f := gatewayview.Serve(cfg)
				follow = f
				return sink, admin
			}
			storeUp := prometheus.NewGauge(prometheus.GaugeOpts{Name: "aiload_gateway_counter_store_up",
				Help: "1 while the shared counter store (Redis) answers, 0 while it does not."})
			storeUp.Set(1)
			opts.Built = func(g *gateway.Gateway) {
				follow(g)
				if redisURL != "" {
					_ = g.Registry().Register(storeUp)
				}
			}
			if redisURL != "" {
				st, err := redisstore.Open(redisURL, redisstore.Options{FailMode: redisstore.FailMode(failMode),
					OnStateChange: func(err error) {
						if err != nil {
							storeUp.Set(0)
							fmt.Fprintf(stderr, "aiload gateway: counter store unreachable, %s until it returns: %v\n", failMode, err)
							return
						}
						storeUp.Set(1)
						fmt.Fprintln(stderr, "aiload gateway: counter store reachable again")
					}})
				if err != nil {
					return usageError{err}
				}
				defer st.Close()
				opts.Store = st
			}
			err = gateway.Serve(cmd.Context(), opts, stderr)
			var ce *gateway.ConfigError
			var pe *apimxml.Error
			if errors.As(err, &ce) || errors.As(err, &pe) {
				return usageError{err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Config, "config", "", "gateway config file (YAML)")
	f.StringArrayVar(&policies, "policy", nil, policyFlagHelp)
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "address of the API listener")
	f.StringVar(&opts.Admin, "admin", "127.0.0.1:9090", "address of /metrics, /healthz and /admin/snapshot")
	f.StringVar(&opts.Log, "log", "tokens.jsonl", "JSONL file the token-metric records are appended to")
	f.StringVar(&opts.RunID, "run-id", "", "run id written into every record")
	f.StringVar(&opts.ID, "id", "", "this instance's gateway_id in records and aiload dash (default: the config's id, gw-1); give each instance sharing --redis its own")
	f.StringVar(&opts.OnRecordError, "on-record-error", gateway.RecordErrorServe,
		"while the record log cannot be written (a full disk): serve (serve on, log it, count lost records in aiload_gateway_records_dropped_total) or refuse (503 until records can be written)")
	f.StringVar(&opts.OTLP, "otlp", "", "export token metrics (gen_ai.client.token.usage, gen_ai.client.operation.duration) over OTLP/HTTP to this collector, e.g. http://127.0.0.1:4318 (default: the config's otlp.endpoint; none)")
	f.DurationVar(&opts.OTLPInterval, "otlp-interval", 0, "time between OTLP exports (default: the config's otlp.interval, 10s); the last counts are sent on shutdown")
	f.StringVar(&redisURL, "redis", "", "share token counters with other instances through Redis (redis://host:port/db)")
	f.StringVar(&failMode, "redis-fail-mode", string(redisstore.FailClosed), "while Redis is unreachable: fail_closed (503) or fail_open (admit unchecked)")
	return cmd
}

// dashboardTally feeds the live dashboard's view with the gateway's
// records and serves its snapshots for aiload dash (see
// gatewayview.Serve), without breaker states: those need the built
// gateway, which the serve command hands over.
func dashboardTally(cfg gateway.Config) (record.Sink, http.Handler) {
	sink, admin, _ := gatewayview.Serve(cfg)
	return sink, admin
}

// describeScopes says what a config translated from API Management
// documents enforces, scope by scope.
func describeScopes(cfg gateway.Config) []string {
	var out []string
	limits := func(ls []gateway.TokenLimit) string {
		parts := make([]string, len(ls))
		for i, l := range ls {
			var what []string
			if l.TokensPerMinute > 0 {
				what = append(what, fmt.Sprintf("%d tokens/min", l.TokensPerMinute))
			}
			if l.TokenQuota > 0 {
				what = append(what, fmt.Sprintf("%d tokens %s", l.TokenQuota, l.TokenQuotaPeriod))
			}
			parts[i] = strings.Join(what, " and ") + " by " + l.CounterKey
		}
		return strings.Join(parts, "; ")
	}
	cache := func(who string, c *gateway.SemanticCache) {
		if c != nil {
			out = append(out, fmt.Sprintf("%s: semantic cache (score-threshold %g, embeddings %s, %s, %s)",
				who, *c.ScoreThreshold, c.EmbeddingsBackendID, c.Duration, cmp.Or(c.Position, gateway.CacheBeforeLimit)))
		}
	}
	for _, p := range cfg.Products {
		if len(p.TokenLimits) > 0 {
			out = append(out, fmt.Sprintf("product %s: %s", p.Name, limits(p.TokenLimits)))
		}
		cache("product "+p.Name, p.SemanticCache)
	}
	for _, a := range cfg.APIs {
		if len(a.TokenLimits) > 0 {
			out = append(out, fmt.Sprintf("api %s: %s", a.Name, limits(a.TokenLimits)))
		}
		cache("api "+a.Name, a.SemanticCache)
		for _, o := range a.Operations {
			if len(o.TokenLimits) > 0 {
				out = append(out, fmt.Sprintf("operation %s/%s: %s", a.Name, o.Name, limits(o.TokenLimits)))
			}
			cache(fmt.Sprintf("operation %s/%s", a.Name, o.Name), o.SemanticCache)
		}
	}
	for _, r := range cfg.RateLimits {
		out = append(out, gateway.DescribeRateLimit(r))
	}
	for _, q := range cfg.Quotas {
		out = append(out, gateway.DescribeQuota(q))
	}
	for _, c := range cfg.CheckHeaders {
		out = append(out, fmt.Sprintf("every request: check-header %s (else %d)", c.Name, c.FailedCheckHTTPCode))
	}
	if cfg.JWT != nil {
		out = append(out, "every request: token validation")
	}
	for _, sec := range []struct {
		name string
		list []gateway.Statement
	}{{"inbound", cfg.Inbound}, {"outbound", cfg.Outbound}} {
		for _, st := range sec.list {
			what := ""
			if h := st.SetHeader; h != nil {
				what = fmt.Sprintf("set-header %s (%s)", h.Name, cmp.Or(h.ExistsAction, gateway.HeaderOverride))
			} else if r := st.ReturnResponse; r != nil {
				what = fmt.Sprintf("return-response %d", cmp.Or(r.Status, 200))
			}
			if st.When != "" {
				what += " when " + st.When
			}
			out = append(out, sec.name+": "+what)
		}
	}
	if m := cfg.EmitTokenMetric; m != nil {
		out = append(out, fmt.Sprintf("every request: emit-token-metric with %d dimensions", len(m.Dimensions)))
	}
	pool := make([]string, len(cfg.Backends))
	for i, b := range cfg.Backends {
		pool[i] = fmt.Sprintf("%s (priority %d, weight %d)", b.Name, b.Priority, b.Weight)
	}
	return append(out, "pool: "+strings.Join(pool, ", "))
}
