package loadgen

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/aiload/aiload/gateway/chat"
)

// Operations are the values of a persona's api: the API operation its
// requests call.
var Operations = []string{chat.OpChat, chat.OpResponses, chat.OpCompletions, chat.OpEmbeddings}

// responsesMinOutput is the smallest max_output_tokens the Responses API
// takes: a persona's smaller draws are sent as this.
const responsesMinOutput = chat.ResponsesMinOutput

// requestBody is the body of c's attempt for the persona's api: a chat
// completions request, a Responses API request (the conversation as input
// messages, max_output_tokens) or a legacy completions request (the
// conversation's texts as one prompt).
func requestBody(c *call, msgs []message, maxTokens int64) ([]byte, error) {
	switch c.p.API {
	case chat.OpResponses:
		type item struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		}
		req := struct {
			Model           string `json:"model"`
			Input           []item `json:"input"`
			MaxOutputTokens int64  `json:"max_output_tokens"`
			Stream          bool   `json:"stream,omitempty"`
			User            string `json:"user,omitempty"`
		}{Model: c.model, MaxOutputTokens: max(maxTokens, responsesMinOutput), Stream: c.p.Stream, User: c.userID}
		for _, m := range msgs {
			req.Input = append(req.Input, item{Role: m.Role, Content: m.Content})
		}
		return marshalRequest(req)
	case chat.OpCompletions:
		req := chat.CompletionsRequest{Model: c.model, MaxTokens: &maxTokens, Stream: c.p.Stream, User: c.userID}
		body := chat.Body{Messages: make([]chat.Msg, len(msgs))}
		for i, m := range msgs {
			body.Messages[i].Text = m.Content
		}
		req.Prompt, _ = json.Marshal(body.PromptText())
		if c.p.Stream {
			req.StreamOptions = &chat.StreamOptions{IncludeUsage: true}
		}
		return marshalRequest(req)
	case chat.OpEmbeddings:
		// the conversation's last message is embedded (a search box's query)
		req := struct {
			Model string `json:"model"`
			Input string `json:"input"`
			User  string `json:"user,omitempty"`
		}{Model: c.model, User: c.userID}
		if len(msgs) > 0 {
			req.Input = msgs[len(msgs)-1].Content
		}
		return marshalRequest(req)
	}
	return chatRequest(c, msgs, maxTokens), nil
}

func marshalRequest(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}

// opEndpoint is endpoint for an operation: Azure's Responses API is its
// v1 route (/openai/v1/responses, which takes no api-version), legacy
// completions the deployment's /completions.
func (t *Target) opEndpoint(model, op string) string {
	base := strings.TrimRight(t.URL, "/")
	switch {
	case op == chat.OpResponses && t.API == APIOpenAI:
		return strings.TrimSuffix(base, "/v1") + "/v1/responses"
	case op == chat.OpResponses:
		return strings.TrimSuffix(base, "/openai") + "/openai/v1/responses"
	case op == chat.OpCompletions && t.API == APIOpenAI:
		return strings.TrimSuffix(base, "/v1") + "/v1/completions"
	case op == chat.OpCompletions:
		return strings.TrimSuffix(base, "/openai") + "/openai/deployments/" + url.PathEscape(model) + "/completions?api-version=" + url.QueryEscape(t.APIVersion)
	case op == chat.OpEmbeddings && t.API == APIOpenAI:
		return strings.TrimSuffix(base, "/v1") + "/v1/embeddings"
	case op == chat.OpEmbeddings:
		return strings.TrimSuffix(base, "/openai") + "/openai/deployments/" + url.PathEscape(model) + "/embeddings?api-version=" + url.QueryEscape(t.APIVersion)
	}
	return t.endpoint(model)
}

// parseAnswer reads a complete answer of op: its usage and its text.
func parseAnswer(op string, data []byte, a *attempt, r *reply) {
	switch op {
	case chat.OpResponses:
		var resp struct {
			Usage chat.ResponsesUsage `json:"usage"`
		}
		if json.Unmarshal(data, &resp) == nil {
			a.usage = usage{PromptTokens: resp.Usage.InputTokens, CompletionTokens: resp.Usage.OutputTokens}
			r.content = chat.ResponsesOutputText(data)
		}
	case chat.OpEmbeddings:
		var resp struct {
			Usage usage `json:"usage"`
		}
		if json.Unmarshal(data, &resp) == nil {
			a.usage = resp.Usage
		}
	case chat.OpCompletions:
		var resp struct {
			Usage usage `json:"usage"`
		}
		if json.Unmarshal(data, &resp) == nil {
			a.usage = resp.Usage
			r.content = chat.CompletionsText(data)
		}
	default:
		if u, content, ok := chatAnswer(data); ok {
			a.usage, r.content = u, content
			return
		}
		var cr struct {
			Choices []struct {
				Message message `json:"message"`
			} `json:"choices"`
			Usage usage `json:"usage"`
		}
		if json.Unmarshal(data, &cr) == nil {
			a.usage = cr.Usage
			if len(cr.Choices) > 0 {
				r.content = cr.Choices[0].Message.Content
			}
		}
	}
}

// streamEvent is the part of a streamed event the load generator reads:
// a chat chunk (choices[].delta.content), a legacy completions chunk
// (choices[].text) or a Responses API event (type and delta, the usage
// of response.completed).
type streamEvent struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		Text string `json:"text"`
	} `json:"choices"`
	Usage *usage `json:"usage"`

	Type     string `json:"type"`
	Delta    string `json:"delta"`
	Response *struct {
		Usage *chat.ResponsesUsage `json:"usage"`
	} `json:"response"`
}

// content returns the event's text and its usage (nil when it has none).
func (ev *streamEvent) content() (string, *usage) {
	if ev.Type != "" {
		if ev.Type == "response.completed" && ev.Response != nil && ev.Response.Usage != nil {
			u := ev.Response.Usage
			return "", &usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens}
		}
		if ev.Type == "response.output_text.delta" {
			return ev.Delta, nil
		}
		return "", nil
	}
	var b strings.Builder
	for _, ch := range ev.Choices {
		b.WriteString(ch.Delta.Content)
		b.WriteString(ch.Text)
	}
	return b.String(), ev.Usage
}
