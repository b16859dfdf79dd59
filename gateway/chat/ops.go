package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Operations: the token-metered API operations aiload serves, as records
// spell them (record.Record.Operation).
const (
	// OpChat is chat completions: /v1/chat/completions and
	// /openai/deployments/{d}/chat/completions.
	OpChat = "chat"
	// OpResponses is the Responses API: /v1/responses, /openai/responses
	// (?api-version=…) and /openai/v1/responses.
	OpResponses = "responses"
	// OpCompletions is legacy completions: /v1/completions and
	// /openai/deployments/{d}/completions.
	OpCompletions = "completions"
)

// CompletionsDefaultMax is the completion cap of a legacy completions
// request that gives no max_tokens: OpenAI's default of 16.
const CompletionsDefaultMax = 16

// ResponsesMinOutput is the smallest max_output_tokens the Responses API
// accepts.
const ResponsesMinOutput = 16

// ResponsesRequest is the part of a Responses API request that aiload reads.
// Input is a string or an array of input items, kept raw.
type ResponsesRequest struct {
	Model           string          `json:"model"`
	Input           json.RawMessage `json:"input"`
	Instructions    string          `json:"instructions,omitempty"`
	MaxOutputTokens *int64          `json:"max_output_tokens,omitempty"`
	Stream          bool            `json:"stream,omitempty"`
	User            string          `json:"user,omitempty"`
}

// Validate checks what every Responses request must have: an input, and a
// max_output_tokens of at least ResponsesMinOutput when given.
func (r *ResponsesRequest) Validate() error {
	if in := bytes.TrimSpace(r.Input); len(in) == 0 || bytes.Equal(in, []byte("null")) {
		return missing("input")
	}
	if r.MaxOutputTokens != nil && *r.MaxOutputTokens < ResponsesMinOutput {
		return &FieldError{Param: "max_output_tokens", Code: "integer_below_min_value",
			Msg: fmt.Sprintf("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= %d, but got %d instead.", ResponsesMinOutput, *r.MaxOutputTokens)}
	}
	return nil
}

// MaxOutput returns max_output_tokens and whether it was given.
func (r *ResponsesRequest) MaxOutput() (int64, bool) {
	if r.MaxOutputTokens == nil {
		return 0, false
	}
	return *r.MaxOutputTokens, true
}

// Messages returns the request's instructions and input as chat messages,
// for counting: the instructions as a system message, a string input as
// one user message, and each input item with a role as a message of that
// role (its content a string or an array of input_text parts). Items
// without a role (function call outputs, …) count their output or
// arguments as a tool message.
func (r *ResponsesRequest) Messages() []Message {
	var msgs []Message
	if r.Instructions != "" {
		msgs = append(msgs, Message{Role: "system", Content: jsonString(r.Instructions)})
	}
	in := bytes.TrimSpace(r.Input)
	if len(in) > 0 && in[0] == '"' {
		return append(msgs, Message{Role: "user", Content: in})
	}
	var items []struct {
		Role      string          `json:"role"`
		Content   json.RawMessage `json:"content"`
		Output    json.RawMessage `json:"output"`
		Arguments string          `json:"arguments"`
	}
	_ = json.Unmarshal(in, &items)
	for _, it := range items {
		switch {
		case it.Role != "":
			msgs = append(msgs, Message{Role: it.Role, Content: it.Content})
		case len(it.Output) > 0:
			msgs = append(msgs, Message{Role: "tool", Content: it.Output})
		case it.Arguments != "":
			msgs = append(msgs, Message{Role: "assistant", Content: jsonString(it.Arguments)})
		}
	}
	return msgs
}

// ResponsesUsage is the usage block of a Responses API answer.
type ResponsesUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

// Usage returns u as a chat completions usage block.
func (u *ResponsesUsage) Usage() *Usage {
	if u == nil {
		return nil
	}
	return &Usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.TotalTokens,
		PromptTokensDetails: &PromptTokensDetails{CachedTokens: u.InputTokensDetails.CachedTokens}}
}

// NewResponsesUsage is the Responses API's usage block for prompt and
// completion tokens.
func NewResponsesUsage(prompt, completion int64) *ResponsesUsage {
	return &ResponsesUsage{InputTokens: prompt, OutputTokens: completion, TotalTokens: prompt + completion}
}

// ResponsesOutputText returns the text of a Responses API answer's
// output_text parts.
func ResponsesOutputText(body []byte) string {
	var r struct {
		Output []struct {
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		} `json:"output"`
	}
	_ = json.Unmarshal(body, &r)
	var b strings.Builder
	for _, o := range r.Output {
		for _, c := range o.Content {
			if c.Type == "output_text" {
				b.WriteString(c.Text)
			}
		}
	}
	return b.String()
}

// CompletionsRequest is the part of a legacy completions request that
// aiload reads. Prompt is a string, an array of strings, an array of token
// ids or an array of such arrays, kept raw.
type CompletionsRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	MaxTokens     *int64          `json:"max_tokens,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	StreamOptions *StreamOptions  `json:"stream_options,omitempty"`
	User          string          `json:"user,omitempty"`
}

// Validate checks what every completions request must have: a prompt, and
// a max_tokens of at least 1 when given.
func (r *CompletionsRequest) Validate() error {
	if p := bytes.TrimSpace(r.Prompt); len(p) == 0 || bytes.Equal(p, []byte("null")) {
		return missing("prompt")
	}
	if _, _, err := r.PromptText(); err != nil {
		return err
	}
	if r.MaxTokens != nil && *r.MaxTokens < 0 {
		return &FieldError{Param: "max_tokens", Code: "integer_below_min_value",
			Msg: fmt.Sprintf("Invalid 'max_tokens': integer below minimum value. Expected a value >= 0, but got %d instead.", *r.MaxTokens)}
	}
	return nil
}

// MaxOutput returns the completion cap: max_tokens, or
// CompletionsDefaultMax when none is given (always given).
func (r *CompletionsRequest) MaxOutput() int64 {
	if r.MaxTokens == nil {
		return CompletionsDefaultMax
	}
	return *r.MaxTokens
}

// PromptText returns the prompt's texts joined, and the count of prompt
// token ids the prompt gave as numbers (which need no tokenizer).
func (r *CompletionsRequest) PromptText() (string, int64, error) {
	p := bytes.TrimSpace(r.Prompt)
	var s string
	if json.Unmarshal(p, &s) == nil {
		return s, 0, nil
	}
	var ss []string
	if json.Unmarshal(p, &ss) == nil {
		return strings.Join(ss, "\n"), 0, nil
	}
	var ids []int64
	if json.Unmarshal(p, &ids) == nil {
		return "", int64(len(ids)), nil
	}
	var idss [][]int64
	if json.Unmarshal(p, &idss) == nil {
		n := int64(0)
		for _, ids := range idss {
			n += int64(len(ids))
		}
		return "", n, nil
	}
	return "", 0, &FieldError{Param: "prompt", Code: "invalid_type",
		Msg: "Invalid type for 'prompt': expected one of a string, array of strings, array of integers or array of arrays of integers."}
}

// CompletionsText returns the text of a legacy completions answer's choices.
func CompletionsText(body []byte) string {
	var r struct {
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
	}
	_ = json.Unmarshal(body, &r)
	var b strings.Builder
	for _, c := range r.Choices {
		b.WriteString(c.Text)
	}
	return b.String()
}

// missing is OpenAI's error for a required parameter left out.
func missing(param string) *FieldError {
	return &FieldError{Param: param, Code: "missing_required_parameter",
		Msg: fmt.Sprintf("Missing required parameter: '%s'.", param)}
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
