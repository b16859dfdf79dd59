package chat

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
)

// FieldError is a request field that an OpenAI-compatible backend refuses
// with 400: Param names the field as OpenAI does ("messages[0].role"),
// Code is OpenAI's code for it.
type FieldError struct {
	Param, Code, Msg string
}

func (e *FieldError) Error() string { return e.Msg }

// roles are the message roles the Chat Completions API accepts.
var roles = []string{"system", "assistant", "user", "function", "tool", "developer"}

func roleError(i int, role string) *FieldError {
	return &FieldError{Param: fmt.Sprintf("messages[%d].role", i), Code: "invalid_value",
		Msg: fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", role)}
}

// CheckMessages checks each message as the Chat Completions API does: a
// known role, and content that is a string or an array of parts (it may be
// left out only by an assistant message, which then carries tool calls).
// The gateway does not call it (API Management passes bodies through); the
// mock backend does, answering 400 as OpenAI would.
func (r *Request) CheckMessages() error {
	for i, m := range r.Messages {
		if !slices.Contains(roles, m.Role) {
			return roleError(i, m.Role)
		}
		c := bytes.TrimSpace(m.Content)
		param := fmt.Sprintf("messages[%d].content", i)
		switch {
		case len(c) == 0 || bytes.Equal(c, []byte("null")):
			if m.Role != "assistant" {
				return &FieldError{Param: param, Code: "missing_required_parameter",
					Msg: fmt.Sprintf("Missing required parameter: '%s'.", param)}
			}
		case c[0] != '"' && c[0] != '[':
			return &FieldError{Param: param, Code: "invalid_type",
				Msg: fmt.Sprintf("Invalid type for '%s': expected one of a string or array of objects, but got %s instead.", param, jsonKind(c))}
		}
	}
	return nil
}

// CheckRoles is CheckMessages for an in-process Body, whose messages are
// text by construction.
func (b *Body) CheckRoles() error {
	for i, m := range b.Messages {
		if !slices.Contains(roles, m.Role) {
			return roleError(i, m.Role)
		}
	}
	return nil
}

// jsonKind names the JSON kind of the value v starts with, as OpenAI's
// messages do ("an integer", "an object").
func jsonKind(v []byte) string {
	switch {
	case v[0] == '{':
		return "an object"
	case v[0] == 't' || v[0] == 'f':
		return "a boolean"
	case bytes.ContainsAny(v, ".eE"):
		return "a decimal"
	default:
		return "an integer"
	}
}

// RequestError is the error detail of a refused request: an
// invalid_request_error, with the param and code of a *FieldError.
func RequestError(err error) ErrorDetail {
	d := ErrorDetail{Message: err.Error(), Type: "invalid_request_error", Code: "invalid_request"}
	if fe, ok := err.(*FieldError); ok {
		d.Param, d.Code = &fe.Param, fe.Code
	}
	return d
}

// WriteRequestError writes err as a 400 (see RequestError).
func WriteRequestError(w http.ResponseWriter, err error) {
	WriteErrorDetail(w, http.StatusBadRequest, RequestError(err))
}

// FailRequest is WriteRequestError's answer to an in-process call.
func FailRequest(err error) *Answer {
	d := RequestError(err)
	a := Fail(http.StatusBadRequest, d.Type, d.Code, d.Message)
	a.Error.Param = d.Param
	return a
}
