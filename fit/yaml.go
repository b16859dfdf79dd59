package fit

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteYAML writes the twin as a scenario file, with comments saying where
// each number came from.
func (tw *Twin) WriteYAML(w io.Writer, source string) error {
	b := &strings.Builder{}
	var requests int64
	for _, p := range tw.Personas {
		requests += p.Requests
	}
	fmt.Fprintf(b, "# A twin of the traffic in %s, fitted by aiload fit from %d requests\n", source, requests)
	fmt.Fprintf(b, "# (first attempts; retries are the callers' reaction, not arrivals) of %d consumers\n", len(tw.Personas))
	fmt.Fprintf(b, "# (one persona each, by %s) between %s and %s.\n", tw.By, tw.From.Format(time.RFC3339), tw.To.Format(time.RFC3339))
	b.WriteString("# Check it against the source: aiload fit --check. Heuristics: docs/fit.md.\n")
	fmt.Fprintf(b, "name: twin\nduration: %s\nseed: %d\nclock: virtual\n", dur(tw.Duration), tw.Seed)
	b.WriteString("mock:\n  min_fraction: 1   # completions as long as max_tokens, which are the logged completion lengths\n")
	tw.writeGateway(b)
	b.WriteString("personas:\n")
	for _, p := range tw.Personas {
		tw.writePersona(b, p)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeGateway writes the --gateway path, or the products and
// subscriptions the log shows with the largest TPM limit recorded.
func (tw *Twin) writeGateway(b *strings.Builder) {
	if tw.Gateway != "" {
		fmt.Fprintf(b, "gateway: %s   # given with --gateway\n", q(tw.Gateway))
		return
	}
	limits := map[string]int64{}
	otherKey := map[string]bool{}
	subs := map[string]*Persona{}
	for _, p := range tw.Personas {
		limits[product(p)] = max(limits[product(p)], p.LimitTPM)
		otherKey[product(p)] = otherKey[product(p)] || p.OtherKey
		if subs[subscription(p)] == nil {
			subs[subscription(p)] = p
		}
	}
	b.WriteString("gateway:   # products and subscriptions as the log shows them; the built-in mock serves\n")
	b.WriteString("  products:\n")
	for _, name := range sortedKeys(limits) {
		fmt.Fprintf(b, "    - name: %s\n", q(name))
		switch {
		case limits[name] > 0 && otherKey[name]:
			fmt.Fprintf(b, "      tokens_per_minute: %d   # the largest limit_tpm recorded; it was keyed by client IP or user, not by subscription: give the policy with --gateway\n", limits[name])
		case limits[name] > 0:
			fmt.Fprintf(b, "      tokens_per_minute: %d   # the largest limit_tpm recorded for its requests\n", limits[name])
		default:
			b.WriteString("      tokens_per_minute: 0   # no limit recorded in the log: add yours, or use --gateway\n")
		}
	}
	b.WriteString("  subscriptions:\n")
	for i, id := range sortedKeys(subs) {
		p := subs[id]
		fmt.Fprintf(b, "    - {id: %s, key: %s, product: %s, team: %s}\n", q(id), q("twin-key-"+strconv.Itoa(i+1)), q(product(p)), q(p.Team))
	}
}

// streamedSuffix names the streaming half of a consumer whose requests
// are a mix of streamed and not.
const streamedSuffix = " (streamed)"

// writePersona writes the consumer's persona; a consumer that streams
// between 10 % and 90 % of its requests gets two, one streaming, sharing
// its rate in proportion, with the same curve, burstiness and lengths.
func (tw *Twin) writePersona(b *strings.Builder, p *Persona) {
	if p.StreamShare < 0.1 || p.StreamShare > 0.9 {
		tw.writePart(b, p, "", p.StreamShare >= 0.5, 1)
		return
	}
	tw.writePart(b, p, "", false, 1-p.StreamShare)
	tw.writePart(b, p, streamedSuffix, true, p.StreamShare)
}

// writePart writes one persona with share of the consumer's requests.
func (tw *Twin) writePart(b *strings.Builder, p *Persona, suffix string, stream bool, share float64) {
	secs := tw.To.Sub(tw.From).Seconds()
	fmt.Fprintf(b, "  - name: %s\n    kind: chat\n", q(name(p.Consumer)+suffix))
	if p.Team != "" {
		fmt.Fprintf(b, "    team: %s\n", q(p.Team))
	}
	fmt.Fprintf(b, "    subscription: %s\n", q(subscription(p)))
	if p.Model != "" {
		fmt.Fprintf(b, "    model: %s   # the model of most of its requests\n", q(p.Model))
	}
	fmt.Fprintf(b, "    stream: %t   # %.0f%% of its requests streamed\n", stream, 100*p.StreamShare)
	of := ""
	if share < 1 {
		of = fmt.Sprintf(", %.0f%% of them", 100*share)
	}
	fmt.Fprintf(b, "    rate: %s/min   # %d requests in %s%s\n", num(float64(p.Requests)*share*60/secs), p.Requests, dur(tw.To.Sub(tw.From)), of)
	fmt.Fprintf(b, "    arrival: gamma\n    burstiness: %s   # requests per minute vary %s × their mean within the curve below (1 = Poisson)\n",
		num(p.Burstiness), num(p.CV2))
	curve := "hour of day, UTC"
	if !tw.DailyBins {
		curve = "24 equal slices of the period"
	}
	fmt.Fprintf(b, "    shape: {kind: daily, hours: %s, day: %s, start_hour: 0}   # arrivals per %s, mean 1\n",
		floats(p.Hours), dur(tw.Day), curve)
	tw.writeLengths(b, p)
	fmt.Fprintf(b, "    on_throttle: %s   # %s\n", p.OnThrottle, p.ThrottleWhy)
	if p.OnThrottle != "fail" {
		fmt.Fprintf(b, "    max_retries: %d   # the longest run of retries seen\n", p.MaxRetries)
	}
	if p.OnThrottle == "backoff" {
		initial := max(time.Duration(p.MedianDelay.Float64*float64(time.Second)), 100*time.Millisecond)
		fmt.Fprintf(b, "    backoff: {initial: %s, max: %s}   # from the median delay of its retries\n", dur(initial), dur(8*initial))
	}
}

func (tw *Twin) writeLengths(b *strings.Builder, p *Persona) {
	if len(p.Prompt) == 0 {
		mean := max(1, p.Tokens/max(1, p.Requests))
		fmt.Fprintf(b, "    prompt_tokens: %d   # no served request in the log: its mean tokens per request\n", mean)
		b.WriteString("    completion_tokens: 1\n")
		return
	}
	prompt := make([]int64, len(p.Prompt))
	for i, v := range p.Prompt {
		prompt[i] = max(1, v-chatOverhead)
	}
	fmt.Fprintf(b, "    prompt_tokens: {dist: empirical, values: %s}   # %d quantiles of its served requests' prompts, less the %d tokens the chat format adds\n",
		intList(prompt), len(prompt), chatOverhead)
	fmt.Fprintf(b, "    completion_tokens: {dist: empirical, values: %s}   # the same for completions, sent as max_tokens\n", intList(p.Completion))
}

func product(p *Persona) string {
	if p.Product != "" {
		return p.Product
	}
	return "default"
}

func subscription(p *Persona) string {
	if p.Subscription != "" {
		return p.Subscription
	}
	return "twin-" + name(p.Consumer)
}

// q quotes a string for YAML (a JSON string is a YAML string).
func q(s string) string {
	out, _ := json.Marshal(s)
	return string(out)
}

func num(x float64) string { return strconv.FormatFloat(x, 'g', 5, 64) }

func floats(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', -1, 64)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func intList(xs []int64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatInt(x, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// dur writes a duration the way scenario files do (24h0m0s → 24h).
func dur(d time.Duration) string {
	s := d.Round(time.Millisecond).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
