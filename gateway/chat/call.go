package chat

import (
	"context"
	"strings"
	"time"
)

// The in-process forms of a chat completions exchange. A simulation (aiload
// run --clock virtual) hands requests to the gateway, and the gateway to its
// built-in mocks, as these values instead of HTTP requests with JSON bodies:
// the same policy code decides, without the wire format's cost.

// Caller answers chat completions in process: the gateway and the built-in
// mock both do (their Call methods).
type Caller interface {
	Call(ctx context.Context, c *Call) *Answer
}

// Call is a chat completions request handed over in process: what an HTTP
// request would carry, already parsed.
type Call struct {
	// Deployment is the Azure route's {deployment}; "" for the OpenAI route
	// (/v1/chat/completions).
	Deployment string
	// Header holds the request headers (subscription key, Authorization,
	// user id, X-Aiload-*).
	Header Header
	// RemoteAddr is the caller's IP address (default 127.0.0.1).
	RemoteAddr string
	// Body is the request body.
	Body Body
	// Operation is the API operation the request stands for (chat.OpChat,
	// OpResponses, OpCompletions; "" is OpChat): the record names it, the
	// exchange is the same.
	Operation string
}

// Body is a chat completions request body, parsed: the parts of Request
// that aiload reads, with messages as Msg.
type Body struct {
	Model    string
	Messages []Msg
	// MaxTokens is the completion cap (max_tokens); 0 when none is given.
	MaxTokens int64
	Stream    bool
	// IncludeUsage is stream_options.include_usage.
	IncludeUsage bool
	User         string
}

// Validate checks what every chat request must have (as Request.Validate).
func (b *Body) Validate() error {
	if len(b.Messages) == 0 {
		// an in-process body cannot tell a missing array from an empty one
		return missing("messages")
	}
	return validate(len(b.Messages), b.MaxTokens, b.MaxTokens != 0)
}

// PromptText is the body's messages as a legacy completions prompt: their
// texts joined by newlines, as the load generator sends them.
func (b *Body) PromptText() string {
	texts := make([]string, len(b.Messages))
	for i, m := range b.Messages {
		texts[i] = m.Text
	}
	return strings.Join(texts, "\n")
}

// Msg is one message of a Body: its text, and the text's token count when
// the sender knows it.
type Msg struct {
	Role string
	Name string
	Text string
	// Tokens is Text's token count under the encoding of the request's
	// model, as tokens.Counter.Text counts it; < 0 when not known (it is
	// counted then). A sender that sets it must have counted with the same
	// tokenizer, so that estimates equal those of the same text sent as JSON.
	Tokens int64
}

// Answer is a chat completion answered in process.
type Answer struct {
	// Status is the HTTP status the answer would have had.
	Status int
	Header Header
	// Err is set when there is no answer at all: the connection was reset,
	// or the simulation stopped.
	Err error
	// Error is the error body of an answer that is not a completion.
	Error *ErrorDetail
	// Usage is the usage block of a completion; nil when it has none.
	Usage *Usage
	// Text is the completion's text and TextTokens its token count under
	// the request model's encoding (< 0 when not known).
	Text       string
	TextTokens int64
	// Stream is set when the answer is an event stream. FirstChunk is then
	// the time from the request to the first chunk with a choice (the
	// assistant role), FirstContent to the first content token.
	Stream                   bool
	FirstChunk, FirstContent time.Duration
	// ContentGaps are a stream's times between consecutive content chunks
	// (one fewer than its content chunks), as a caller reading it would
	// measure them.
	ContentGaps []time.Duration
}

// Fail returns an answer with an OpenAI-style error body, as WriteError
// writes it.
func Fail(status int, errType, code, msg string) *Answer {
	return &Answer{Status: status, Header: Header{{"Content-Type", "application/json"}},
		Error: &ErrorDetail{Message: msg, Type: errType, Code: code}, TextTokens: -1}
}

// Header is a small set of header fields for in-process calls: names
// (ASCII, as HTTP's are) compare case-insensitively, and a name has one
// value.
type Header []Field

// Field is one header field.
type Field struct{ Name, Value string }

// Get returns the value of name, "" when absent.
func (h Header) Get(name string) string {
	for _, f := range h {
		if sameName(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Values returns the value of name as a list (nil when absent), as
// http.Header.Values does.
func (h Header) Values(name string) []string {
	for _, f := range h {
		if sameName(f.Name, name) {
			return []string{f.Value}
		}
	}
	return nil
}

// Set sets name to value, replacing a value it had.
func (h *Header) Set(name, value string) {
	for i, f := range *h {
		if sameName(f.Name, name) {
			(*h)[i].Value = value
			return
		}
	}
	*h = append(*h, Field{name, value})
}

// sameName compares ASCII header names case-insensitively.
func sameName(a, b string) bool { return a == b || len(a) == len(b) && strings.EqualFold(a, b) }
