// Package otelmetrics exports the gateway's token metrics over OTLP/HTTP
// with the OpenTelemetry Go SDK, following the GenAI semantic conventions:
// gen_ai.client.token.usage, one histogram data point set per token type
// (input, output), and gen_ai.client.operation.duration, one measurement
// per backend attempt, with the llm-emit-token-metric dimensions as
// attributes.
package otelmetrics

import (
	"fmt"
	"net/url"
	"time"
)

// DefaultInterval is Config.Interval when unset.
const DefaultInterval = 10 * time.Second

// DefaultNamespace is the instrumentation scope name when the
// emit-token-metric policy gives no namespace: API Management's default.
const DefaultNamespace = "API Management"

// Config is where and how often token metrics are exported, as written
// under `otlp:` in a gateway config or a scenario's gateway section: an
// object, or the endpoint URL alone.
type Config struct {
	// Endpoint is the collector's OTLP/HTTP URL: a base URL such as
	// http://127.0.0.1:4318 gets /v1/metrics appended, a URL with a path
	// is used as it is. Empty: no export.
	Endpoint string `yaml:"endpoint" json:"endpoint"`
	// Interval is the time between exports (default 10s). Whatever was
	// counted since the last export is also sent when the gateway stops.
	Interval time.Duration `yaml:"interval" json:"interval,omitempty"`
	// Timeout bounds one export (default: Interval, at most 30s).
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Headers are sent with every export (a collector's API key, say);
	// never logged.
	Headers map[string]string `yaml:"headers" json:"-"`
}

// UnmarshalYAML accepts the collector's URL alone (otlp:
// http://127.0.0.1:4318) as well as the object form.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	var endpoint string
	if err := unmarshal(&endpoint); err == nil {
		*c = Config{Endpoint: endpoint}
		return nil
	}
	type plain Config
	var p plain
	if err := unmarshal(&p); err != nil {
		return err
	}
	*c = Config(p)
	return nil
}

// Validate checks c and returns its problems, each with the field it
// concerns.
func (c *Config) Validate() []FieldProblem {
	var out []FieldProblem
	if c.Endpoint != "" {
		if _, err := metricsURL(c.Endpoint); err != nil {
			out = append(out, FieldProblem{"endpoint", err.Error()})
		}
	}
	if c.Interval < 0 {
		out = append(out, FieldProblem{"interval", fmt.Sprintf("must be >= 0 (0: the default, %s), got %s", DefaultInterval, c.Interval)})
	}
	if c.Timeout < 0 {
		out = append(out, FieldProblem{"timeout", fmt.Sprintf("must be >= 0 (0: the default), got %s", c.Timeout)})
	}
	return out
}

// FieldProblem is one problem of a Config: the field (its YAML name) and
// what is wrong with it.
type FieldProblem struct {
	Field, Msg string
}

// metricsURL is the URL metrics are posted to.
func metricsURL(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("must be an absolute http(s) URL such as http://127.0.0.1:4318, got %q", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/metrics"
	}
	return u, nil
}

func (c Config) interval() time.Duration {
	if c.Interval > 0 {
		return c.Interval
	}
	return DefaultInterval
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return min(c.interval(), 30*time.Second)
}
