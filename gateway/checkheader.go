package gateway

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/aiload/aiload/record"
)

// CheckHeader is API Management's check-header policy: a request must
// carry the header, with one of Values when any are given.
type CheckHeader struct {
	Name string `yaml:"name" json:"name"`
	// Values, when set, are the accepted values (any one of them).
	Values []string `yaml:"values" json:"values,omitempty"`
	// IgnoreCase compares values without regard to case.
	IgnoreCase bool `yaml:"ignore_case" json:"ignore_case,omitempty"`
	// FailedCheckHTTPCode is the status of a refusal (401 unauthorized,
	// 403 forbidden, else bad_request in records).
	FailedCheckHTTPCode int `yaml:"failed_check_httpcode" json:"failed_check_httpcode"`
	// FailedCheckErrorMessage is the refusal's message.
	FailedCheckErrorMessage string `yaml:"failed_check_error_message" json:"failed_check_error_message"`
}

func (c CheckHeader) validate(errs *problems, path string) {
	if c.Name == "" {
		errs.add(path+".name", "must be set")
	}
	if c.FailedCheckHTTPCode < 400 || c.FailedCheckHTTPCode > 599 {
		errs.add(path+".failed_check_httpcode", "must be an error status (400-599), got %d", c.FailedCheckHTTPCode)
	}
}

// passes reports whether the request's values of the header satisfy c.
func (c CheckHeader) passes(values []string) bool {
	if len(values) == 0 {
		return false
	}
	if len(c.Values) == 0 {
		return true
	}
	for _, v := range values {
		if slices.ContainsFunc(c.Values, func(want string) bool {
			return want == v || c.IgnoreCase && strings.EqualFold(want, v)
		}) {
			return true
		}
	}
	return false
}

// checkHeaders applies the configured check-header policies in order, or
// answers the failing one's status and message (with wire apim in API
// Management's error body).
func (g *Gateway) checkHeaders(x *exchange) bool {
	for _, c := range g.cfg.CheckHeaders {
		if c.passes(x.headerValues(c.Name)) {
			continue
		}
		outcome := record.OutcomeBadRequest
		switch c.FailedCheckHTTPCode {
		case http.StatusUnauthorized:
			outcome = record.OutcomeUnauthorized
		case http.StatusForbidden:
			outcome = record.OutcomeForbidden
		}
		msg := cmp.Or(c.FailedCheckErrorMessage, fmt.Sprintf("Header %s is missing or has a value that is not allowed.", c.Name))
		if g.apim() { // API Management answers the refusal itself
			g.rejectAPIM(x, c.FailedCheckHTTPCode, outcome, msg)
			return false
		}
		g.reject(x, c.FailedCheckHTTPCode, outcome, "invalid_request_error", fmt.Sprint(c.FailedCheckHTTPCode), msg)
		return false
	}
	return true
}
