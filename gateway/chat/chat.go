// Package chat holds the wire types of the OpenAI chat completions API that
// the gateway and the built-in mock backend both speak, and the OpenAI-style
// error body.
package chat

import (
	"encoding/json"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// Message is one chat message. Content is kept raw because it may be a
// string or an array of content parts.
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    string          `json:"name,omitempty"`
}

// Text returns the message's text: the string content, or the text parts of
// an array content joined by newlines.
func (m Message) Text() string {
	if len(m.Content) == 0 {
		return ""
	}
	if s, ok := plainString(m.Content); ok {
		return s
	}
	var s string
	if err := json.Unmarshal(m.Content, &s); err == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return ""
	}
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += "\n"
		}
		out += p.Text
	}
	return out
}

// plainString returns the text of a JSON string without escapes, which is
// its bytes between the quotes (the common case, and the long one: a
// prompt), without a decoding pass.
func plainString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, b := range body {
		if b == '\\' || b == '"' || b < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(body) {
		return "", false
	}
	return string(body), true
}

// Images returns how many image parts an array content holds.
func (m Message) Images() int {
	if len(m.Content) == 0 || m.Content[0] != '[' {
		return 0
	}
	var parts []struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return 0
	}
	n := 0
	for _, p := range parts {
		if p.Type == "image_url" || p.Type == "input_image" {
			n++
		}
	}
	return n
}

// StreamOptions are the stream_options of a request.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Request is the part of a chat completions request that aiload reads.
type Request struct {
	Model               string         `json:"model"`
	Messages            []Message      `json:"messages"`
	MaxTokens           *int64         `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int64         `json:"max_completion_tokens,omitempty"`
	Stream              bool           `json:"stream,omitempty"`
	StreamOptions       *StreamOptions `json:"stream_options,omitempty"`
	User                string         `json:"user,omitempty"`
}

// MaxOutput returns the request's completion token cap (max_completion_tokens,
// else max_tokens) and whether one was given.
func (r *Request) MaxOutput() (int64, bool) {
	if r.MaxCompletionTokens != nil {
		return *r.MaxCompletionTokens, true
	}
	if r.MaxTokens != nil {
		return *r.MaxTokens, true
	}
	return 0, false
}

// Validate checks what every chat request must have.
func (r *Request) Validate() error {
	if r.Messages == nil {
		return missing("messages")
	}
	n, given := r.MaxOutput()
	return validate(len(r.Messages), n, given)
}

// validate checks a request's message count and completion cap.
func validate(messages int, maxOut int64, given bool) error {
	if messages == 0 {
		return &FieldError{Param: "messages", Code: "empty_array",
			Msg: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."}
	}
	if given && maxOut < 1 {
		return &FieldError{Param: "max_tokens", Code: "integer_below_min_value",
			Msg: fmt.Sprintf("Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", maxOut)}
	}
	return nil
}

// PromptTokensDetails carries cached prompt tokens.
type PromptTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

// Usage is the usage block of a completion.
type Usage struct {
	PromptTokens        int64                `json:"prompt_tokens"`
	CompletionTokens    int64                `json:"completion_tokens"`
	TotalTokens         int64                `json:"total_tokens"`
	PromptTokensDetails *PromptTokensDetails `json:"prompt_tokens_details,omitempty"`
}

// Plausible reports whether the counts can be true: none negative, the
// total at least prompt + completion, and cached within the prompt. A usage
// block that fails this is treated as missing (and the tokens estimated).
func (u Usage) Plausible() bool {
	return u.PromptTokens >= 0 && u.CompletionTokens >= 0 && u.Cached() >= 0 &&
		u.TotalTokens >= u.PromptTokens+u.CompletionTokens && u.Cached() <= u.PromptTokens
}

// Cached returns the cached prompt tokens, 0 when not reported.
func (u Usage) Cached() int64 {
	if u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CachedTokens
}

// Choice is one completion choice.
type Choice struct {
	Index        int     `json:"index"`
	Message      Message `json:"message"`
	FinishReason string  `json:"finish_reason"`
}

// Response is a non-streaming chat completion.
type Response struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   *Usage   `json:"usage,omitempty"`
}

// ErrorBody is the OpenAI-style error envelope: {"error": {...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an ErrorBody.
type ErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// WriteError writes an OpenAI-style error body with the given status.
// errType is e.g. "invalid_request_error"; code is a short machine code.
func WriteError(w http.ResponseWriter, status int, errType, code, msg string) {
	WriteErrorDetail(w, status, ErrorDetail{Message: msg, Type: errType, Code: code})
}

// WriteErrorDetail writes d as an OpenAI-style error body with status.
func WriteErrorDetail(w http.ResponseWriter, status int, d ErrorDetail) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // ">= 1" as OpenAI writes it, not "\u003e= 1"
	_ = enc.Encode(ErrorBody{Error: d})
}
