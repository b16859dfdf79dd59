package mockllm

import (
	"encoding/json"
	"net/http"
)

// responsesRequest is a Responses API request as the mock reads it: the
// common fields, the tools offered (flat: {"type":"function","name":…,
// "parameters":…}) and whether the input ends with a tool's result.
type responsesRequest struct {
	Tools []struct {
		Type       string          `json:"type"`
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

// pickResponsesTool is pickTool for the Responses request body b: after a
// function_call_output as the input's last item the model answers text.
func (s *Server) pickResponsesTool(b []byte) *tool {
	var req responsesRequest
	var in struct {
		Input json.RawMessage `json:"input"`
	}
	if json.Unmarshal(b, &req) != nil || json.Unmarshal(b, &in) != nil {
		return nil
	}
	var fns []*tool
	for _, t := range req.Tools {
		if t.Type != "function" || t.Name == "" {
			continue
		}
		f := &tool{Type: "function"}
		f.Function.Name = t.Name
		_ = json.Unmarshal(t.Parameters, &f.Function.Parameters)
		fns = append(fns, f)
	}
	var items []struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(in.Input, &items)
	afterResult := len(items) > 0 && items[len(items)-1].Type == "function_call_output"
	return s.pickFrom(fns, req.ToolChoice, afterResult)
}

// functionCall is a Responses API function_call output item.
type functionCall struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Arguments string `json:"arguments"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
}

func newFunctionCall(c toolCall) functionCall {
	return functionCall{ID: "fc_" + c.ID[len("call_"):], Type: "function_call", Status: "completed",
		Arguments: c.Function.Arguments, CallID: c.ID, Name: c.Function.Name}
}

// streamFunctionCall streams a response whose output is the function call
// fc as the Responses API does: response.created and in_progress, the item
// added with empty arguments, response.function_call_arguments.delta
// pieces paced by the latency model, the arguments done, the item done,
// and response.completed with the usage. It reports whether the stream
// was sent to the end.
func (s *Server) streamFunctionCall(w http.ResponseWriter, r *http.Request, resp *response, fc functionCall, prompt, completion int64) bool {
	send, ok := sseWriter(w)
	if !ok {
		return false
	}
	seq := 0
	event := func(typ string, fields map[string]any) {
		fields["type"], fields["sequence_number"] = typ, seq
		seq++
		send(typ, fields)
	}
	event("response.created", map[string]any{"response": resp})
	event("response.in_progress", map[string]any{"response": resp})
	if s.sleep(r.Context(), s.cfg.FirstTokenDelay) != nil {
		return false
	}
	started := fc
	started.Status, started.Arguments = "in_progress", ""
	event("response.output_item.added", map[string]any{"output_index": 0, "item": started})
	args := fc.Arguments
	pieces := max(1, (completion+chunkTokens-1)/chunkTokens)
	size := (len(args) + int(pieces) - 1) / int(pieces)
	for i, sent := 0, int64(0); i < len(args); i, sent = i+size, sent+chunkTokens {
		if s.sleep(r.Context(), s.chunkDelay(min(chunkTokens, max(completion-sent, 1)))) != nil {
			return false
		}
		event("response.function_call_arguments.delta", map[string]any{"item_id": fc.ID, "output_index": 0,
			"delta": args[i:min(i+size, len(args))]})
	}
	event("response.function_call_arguments.done", map[string]any{"item_id": fc.ID, "output_index": 0, "arguments": args})
	event("response.output_item.done", map[string]any{"output_index": 0, "item": fc})
	resp.Status, resp.Output, resp.Usage = "completed", []any{fc}, nil
	resp.setUsage(prompt, completion)
	event("response.completed", map[string]any{"response": resp})
	return true
}
