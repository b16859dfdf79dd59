package mockllm

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/aiload/aiload/gateway/chat"
)

// chatRequest is a chat request as the mock reads it: the common fields,
// and the tools offered.
type chatRequest struct {
	chat.Request
	Tools      []tool          `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

// tool is one entry of a request's tools.
type tool struct {
	Type     string `json:"type"`
	Function struct {
		Name       string `json:"name"`
		Parameters struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"parameters"`
	} `json:"function"`
}

// toolCall is an assistant message's tool call.
type toolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// pickTool decides whether the answer to req is a tool call, and of which
// tool (see pickFrom). nil: answer with text.
func (s *Server) pickTool(req *chatRequest) *tool {
	var fns []*tool
	for i := range req.Tools {
		if req.Tools[i].Type == "function" && req.Tools[i].Function.Name != "" {
			fns = append(fns, &req.Tools[i])
		}
	}
	afterResult := len(req.Messages) > 0 && req.Messages[len(req.Messages)-1].Role == "tool"
	return s.pickFrom(fns, req.ToolChoice, afterResult)
}

// pickFrom picks the function tool of fns an answer calls: none without
// function tools, with tool_choice "none", or after a tool's result
// (afterResult: the model answers the user then); always with tool_choice
// "required" or a named function ({"type":"function","name":…} or
// {"type":"function","function":{"name":…}}); otherwise for
// Config.ToolCallShare of requests. nil: answer with text.
func (s *Server) pickFrom(fns []*tool, choice json.RawMessage, afterResult bool) *tool {
	if len(fns) == 0 {
		return nil
	}
	var mode string
	var named struct {
		Name     string                `json:"name"`
		Function struct{ Name string } `json:"function"`
	}
	if json.Unmarshal(choice, &mode) != nil && json.Unmarshal(choice, &named) == nil {
		want := cmp.Or(named.Name, named.Function.Name)
		for _, f := range fns {
			if want != "" && f.Function.Name == want {
				return f
			}
		}
	}
	switch {
	case mode == "none":
		return nil
	case mode == "required":
	case afterResult:
		return nil
	default:
		s.mu.Lock()
		u := s.rng.Float64()
		s.mu.Unlock()
		if u >= s.cfg.toolCallShare() {
			return nil
		}
	}
	return fns[0]
}

// newToolCall is a call of t whose arguments are a JSON object of about n
// tokens: its first required parameter (else its first, else "input")
// set to n-4 filler words.
func (s *Server) newToolCall(t *tool, n int64) toolCall {
	param := "input"
	p := t.Function.Parameters
	if len(p.Required) > 0 {
		param = p.Required[0]
	} else if len(p.Properties) > 0 {
		names := make([]string, 0, len(p.Properties))
		for k := range p.Properties {
			names = append(names, k)
		}
		sort.Strings(names)
		param = names[0]
	}
	args, _ := json.Marshal(map[string]string{param: Text(max(n-4, 1))})
	c := toolCall{ID: fmt.Sprintf("call_mock%d", s.seq.Add(1)), Type: "function"}
	c.Function.Name, c.Function.Arguments = t.Function.Name, string(args)
	return c
}

// writeToolCall answers a chat request with call, finish_reason tool_calls.
func (s *Server) writeToolCall(w http.ResponseWriter, model string, call toolCall, prompt, completion int64) {
	msg := map[string]any{"role": "assistant", "content": nil, "tool_calls": []toolCall{call}, "refusal": nil}
	resp := map[string]any{
		"id": fmt.Sprintf("chatcmpl-mock-%d", s.seq.Add(1)), "object": "chat.completion", "created": s.cfg.Clock.Now().Unix(),
		"model": model, "choices": []map[string]any{{"index": 0, "message": msg, "logprobs": nil, "finish_reason": "tool_calls"}},
		"usage": chat.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// streamToolCall streams call as OpenAI does: a first chunk with the
// role, the call's id, type and name and empty arguments, then chunks of
// the arguments' text paced by the latency model, a finish chunk with
// finish_reason tool_calls, the usage chunk when asked for, and [DONE]. It
// reports whether the stream was sent to the end.
func (s *Server) streamToolCall(w http.ResponseWriter, r *http.Request, model string, call toolCall, prompt, completion int64, includeUsage bool) bool {
	send, ok := sseWriter(w)
	if !ok {
		return false
	}
	id := fmt.Sprintf("chatcmpl-mock-%d", s.seq.Add(1))
	created := s.cfg.Clock.Now().Unix()
	chunk := func(delta map[string]any, finish any) {
		c := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []map[string]any{{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}}
		if includeUsage {
			c["usage"] = nil
		}
		send("", c)
	}
	if s.sleep(r.Context(), s.cfg.FirstTokenDelay) != nil {
		return false
	}
	first := map[string]any{"index": 0, "id": call.ID, "type": "function", "function": map[string]string{"name": call.Function.Name, "arguments": ""}}
	chunk(map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{first}, "refusal": nil}, nil)
	args := call.Function.Arguments
	pieces := max(1, (completion+chunkTokens-1)/chunkTokens)
	size := (len(args) + int(pieces) - 1) / int(pieces)
	for i, sent := 0, int64(0); i < len(args); i, sent = i+size, sent+chunkTokens {
		if s.sleep(r.Context(), s.chunkDelay(min(chunkTokens, max(completion-sent, 1)))) != nil {
			return false
		}
		piece := args[i:min(i+size, len(args))]
		chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]string{"arguments": piece}}}}, nil)
	}
	chunk(map[string]any{}, "tool_calls")
	if includeUsage {
		send("", map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{}, "usage": chat.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}})
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	w.(http.Flusher).Flush()
	return true
}
