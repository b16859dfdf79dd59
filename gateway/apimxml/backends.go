package apimxml

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aiload/aiload/gateway"
)

// armBackend is a Microsoft.ApiManagement/service/backends resource, as an
// ARM template, a Bicep build or `az apim backend show` give it.
type armBackend struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Properties armBackendProp `json:"properties"`
}

type armBackendProp struct {
	URL            string          `json:"url"`
	Type           string          `json:"type"` // Single (default) or Pool
	Pool           *armPool        `json:"pool"`
	CircuitBreaker *armBreaker     `json:"circuitBreaker"`
	Credentials    *armCredentials `json:"credentials"`
	TLS            json.RawMessage `json:"tls"`
	Proxy          json.RawMessage `json:"proxy"`
}

type armPool struct {
	Services []struct {
		ID       string `json:"id"`
		Priority int    `json:"priority"`
		Weight   int    `json:"weight"`
	} `json:"services"`
}

type armBreaker struct {
	Rules []struct {
		Name             string `json:"name"`
		FailureCondition struct {
			Count            int      `json:"count"`
			Percentage       float64  `json:"percentage"`
			Interval         string   `json:"interval"`
			ErrorReasons     []string `json:"errorReasons"`
			StatusCodeRanges []struct {
				Min int `json:"min"`
				Max int `json:"max"`
			} `json:"statusCodeRanges"`
		} `json:"failureCondition"`
		TripDuration     string `json:"tripDuration"`
		AcceptRetryAfter bool   `json:"acceptRetryAfter"`
	} `json:"rules"`
}

type armCredentials struct {
	Header        map[string][]string `json:"header"`
	Query         map[string][]string `json:"query"`
	Authorization json.RawMessage     `json:"authorization"`
}

// poolMember is one backend of a pool.
type poolMember struct {
	name             string
	priority, weight int
}

// backends reads the backends file and merges its backends into the
// config by name; pools are kept for set-backend-service.
func (r *resolver) backends(path string) {
	src, err := os.ReadFile(path)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("read backends: %w", err))
		return
	}
	if strings.HasSuffix(strings.ToLower(path), ".bicep") {
		r.errs = append(r.errs, &Error{File: path, Pos: Pos{1, 1}, Msg: "Bicep is not read: give the ARM JSON (az bicep build --file FILE) or az apim backend list's output"})
		return
	}
	src = namedRef.ReplaceAllFunc(src, func(ref []byte) []byte {
		name := string(namedRef.FindSubmatch(ref)[1])
		v, ok := r.value(name)
		if !ok {
			r.errs = append(r.errs, &Error{File: path, Pos: posAt(src, bytes.Index(src, ref)), Msg: fmt.Sprintf(
				"named value {{%s}} is not defined: give it under apim.named_values or in the environment as %s", name, EnvName(name))})
			return ref
		}
		b, _ := json.Marshal(v)
		return b[1 : len(b)-1]
	})
	list, err := armResources(path, src)
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	if placeholder(r.cfg) {
		r.cfg.Backends = nil
	}
	r.pools = map[string][]poolMember{}
	for _, b := range list {
		r.backend1(path, src, b)
	}
	for name, members := range r.pools {
		for _, m := range members {
			if !slices.ContainsFunc(r.cfg.Backends, func(b gateway.Backend) bool { return b.Name == m.name }) {
				r.errs = append(r.errs, &Error{File: path, Pos: namePos(src, name), Msg: fmt.Sprintf("pool %s: member %q is not a backend of the file or the config", name, m.name)})
			}
		}
	}
}

// armResources reads a JSON array of backends, an object whose
// "resources" (an ARM template) or "value" (a list answer) holds them, or
// one backend.
func armResources(path string, src []byte) ([]armBackend, error) {
	var top any
	if err := json.Unmarshal(src, &top); err != nil {
		return nil, jsonError(path, src, err)
	}
	raw := src
	if m, ok := top.(map[string]any); ok {
		for _, k := range []string{"resources", "value"} {
			if v, ok := m[k]; ok {
				raw, _ = json.Marshal(v)
			}
		}
		if _, ok := m["properties"]; ok {
			raw = append(append([]byte("["), src...), ']')
		}
	}
	var list []armBackend
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, &Error{File: path, Pos: Pos{1, 1}, Msg: "want Microsoft.ApiManagement/service/backends resources (an array, an ARM template's resources or a list's value): " + err.Error()}
	}
	return list, nil
}

func jsonError(path string, src []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{File: path, Pos: posAt(src, int(min(se.Offset, int64(len(src))))), Msg: "malformed JSON: " + se.Error()}
	}
	return &Error{File: path, Pos: Pos{1, 1}, Msg: err.Error()}
}

// namePos is where a resource's name is in the file (1:1 if not found).
func namePos(src []byte, name string) Pos {
	q, _ := json.Marshal(name)
	if i := bytes.Index(src, q); i >= 0 {
		return posAt(src, i)
	}
	if i := bytes.Index(src, []byte("/"+name+`"`)); i >= 0 {
		return posAt(src, i)
	}
	return Pos{1, 1}
}

// placeholder reports whether the config's backends are only the default
// one Defaults adds to a config without backends.
func placeholder(cfg *gateway.Config) bool {
	b := cfg.Backends
	return len(b) == 1 && b[0].Name == "mock" && b[0].URL == "" && b[0].Mock == nil && cfg.Backend.Name == "" && cfg.Backend.URL == ""
}

// armExpr matches a name that is still an ARM template expression.
var armExpr = regexp.MustCompile(`^\[.*\]$`)

// backend1 translates one resource.
func (r *resolver) backend1(path string, src []byte, b armBackend) {
	bad := func(msg string, a ...any) {
		r.errs = append(r.errs, &Error{File: path, Pos: namePos(src, b.Name), Msg: fmt.Sprintf("backend %s: ", b.Name) + fmt.Sprintf(msg, a...)})
	}
	if armExpr.MatchString(b.Name) {
		bad("the name is an ARM template expression: give the deployed resource (az apim backend show) or write the name")
		return
	}
	if b.Type != "" && !strings.EqualFold(b.Type, "Microsoft.ApiManagement/service/backends") {
		bad("type %s is not an API Management backend", b.Type)
		return
	}
	name := b.Name[strings.LastIndexByte(b.Name, '/')+1:]
	if name == "" {
		bad("the name must be set")
		return
	}
	p := b.Properties
	if strings.EqualFold(p.Type, "Pool") {
		if p.Pool == nil || len(p.Pool.Services) == 0 {
			bad("a pool needs pool.services")
			return
		}
		for _, s := range p.Pool.Services {
			m := poolMember{name: s.ID[strings.LastIndexByte(s.ID, '/')+1:], priority: max(s.Priority, 1), weight: max(s.Weight, 1)}
			r.pools[name] = append(r.pools[name], m)
		}
		return
	}
	be := gateway.Backend{Name: name, URL: p.URL}
	if p.CircuitBreaker != nil {
		cb, err := breaker(p.CircuitBreaker)
		if err != nil {
			bad("%v", err)
			return
		}
		be.CircuitBreaker = cb
	}
	if c := p.Credentials; c != nil {
		for h, v := range c.Header {
			if strings.EqualFold(h, "api-key") && len(v) == 1 {
				be.APIKey = v[0]
				continue
			}
			r.warnings = append(r.warnings, Warning{File: path, Pos: namePos(src, b.Name), Msg: fmt.Sprintf("backend %s: credentials header %s is not emulated (only api-key is sent)", name, h)})
		}
		if len(c.Query) > 0 || len(c.Authorization) > 0 {
			r.warnings = append(r.warnings, Warning{File: path, Pos: namePos(src, b.Name), Msg: fmt.Sprintf("backend %s: credentials query and authorization are not emulated: give the backend's auth in the config", name)})
		}
	}
	if len(p.TLS) > 0 || len(p.Proxy) > 0 {
		r.warnings = append(r.warnings, Warning{File: path, Pos: namePos(src, b.Name), Msg: fmt.Sprintf("backend %s: tls and proxy are not emulated", name)})
	}
	r.merge(path, src, b.Name, be)
}

// merge adds be to the config, or completes the config's backend of the
// same name (tier, auth and mock stay the config's).
func (r *resolver) merge(path string, src []byte, armName string, be gateway.Backend) {
	i := slices.IndexFunc(r.cfg.Backends, func(b gateway.Backend) bool { return b.Name == be.Name })
	if i < 0 {
		be.Tier, be.Priority, be.Weight = "payg", 1, 1
		r.cfg.Backends = append(r.cfg.Backends, be)
		return
	}
	c := &r.cfg.Backends[i]
	if c.URL == "" && c.Mock == nil { // a config's mock stands in for the backend
		c.URL = be.URL
	}
	if be.CircuitBreaker != nil {
		if c.CircuitBreaker != nil {
			r.errs = append(r.errs, &Error{File: path, Pos: namePos(src, armName), Msg: fmt.Sprintf("backend %s: a circuit breaker here and circuit_breaker in the config: keep one", be.Name)})
			return
		}
		c.CircuitBreaker = be.CircuitBreaker
	}
	if be.APIKey != "" && c.APIKey == "" && c.APIKeyEnv == "" && c.APIKeyFile == "" && c.Auth == gateway.AuthAPIKey {
		c.APIKey = be.APIKey
	}
}

// breaker translates circuitBreaker.rules: API Management takes one rule
// per backend.
func breaker(a *armBreaker) (*gateway.CircuitBreaker, error) {
	if len(a.Rules) != 1 {
		return nil, fmt.Errorf("circuitBreaker.rules: API Management takes exactly one rule per backend, got %d", len(a.Rules))
	}
	rule := a.Rules[0]
	fc := rule.FailureCondition
	cb := &gateway.CircuitBreaker{FailureCount: fc.Count, FailurePercentage: fc.Percentage, AcceptRetryAfter: rule.AcceptRetryAfter}
	var err error
	at := "circuitBreaker.rules[0] (" + rule.Name + ")"
	if cb.Interval, err = ISODuration(fc.Interval); err != nil {
		return nil, fmt.Errorf("%s: failureCondition.interval: %w", at, err)
	}
	if cb.TripDuration, err = ISODuration(rule.TripDuration); err != nil {
		return nil, fmt.Errorf("%s: tripDuration: %w", at, err)
	}
	for _, s := range fc.StatusCodeRanges {
		cb.StatusRanges = append(cb.StatusRanges, fmt.Sprintf("%d-%d", s.Min, s.Max))
	}
	if fc.Count == 0 && fc.Percentage == 0 {
		return nil, fmt.Errorf("%s: failureCondition needs count or percentage", at)
	}
	return cb, nil
}

// isoDuration matches the ISO 8601 durations API Management takes:
// PnW, PnDTnHnMnS with any part omitted, seconds with a fraction.
var isoDuration = regexp.MustCompile(`^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$`)

// ISODuration parses an ISO 8601 duration such as PT1M, PT10S, PT1H30M or
// P1D ("" is 0). Years and months have no fixed length and are refused.
func ISODuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	m := isoDuration.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(s)))
	if m == nil || s == "P" || strings.HasSuffix(strings.ToUpper(s), "T") {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration (e.g. PT10S, PT1M, PT1H, P1D)", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] != "" {
			n, _ := strconv.ParseInt(m[i+1], 10, 64)
			d += time.Duration(n) * unit
		}
	}
	if m[5] != "" {
		f, _ := strconv.ParseFloat(strings.ReplaceAll(m[5], ",", "."), 64)
		d += time.Duration(f * float64(time.Second))
	}
	return d, nil
}
