package mockllm

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/aiload/aiload/gateway/chat"
)

// The Responses API and legacy completions: the same validation, prompt
// count, PTU ceiling, faults, completion draw, latency and tally as chat
// completions, in their own wire shapes.

// handleResponses serves POST /v1/responses, /openai/responses and
// /openai/v1/responses: a response object with its usage, or a stream of
// Responses API events ending with response.completed and its usage.
func (s *Server) handleResponses(w http.ResponseWriter, r *http.Request) {
	if !checkAPIVersion(w, r, chat.OpResponses) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	var req chat.ResponsesRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		chat.WriteError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "parse request body: "+err.Error())
		return
	}
	maxOut, given := req.MaxOutput()
	invalid := req.Validate()
	if invalid == nil && req.Model == "" {
		invalid = &chat.FieldError{Param: "model", Code: "missing_required_parameter", Msg: "Missing required parameter: 'model'."}
	}
	v := s.decide(r.Context(), request{model: req.Model, maxOut: maxOut, given: given, invalid: invalid,
		prompt: func() (int64, error) { return s.counter.Prompt(req.Model, req.Messages()) }})
	if !s.writeVerdict(w, v) {
		return
	}
	resp := s.newResponse(req.Model)
	var call *functionCall
	if t := s.pickResponsesTool(body); t != nil {
		fc := newFunctionCall(s.newToolCall(t, v.completion))
		call = &fc
	}
	if req.Stream {
		var sent bool
		if call != nil {
			sent = s.streamFunctionCall(w, r, resp, *call, v.prompt, v.completion)
		} else {
			sent = s.streamResponse(w, r, resp, v.prompt, v.completion)
		}
		if sent {
			s.done(r.Header.Get(PersonaHeader), v)
		}
		return
	}
	if err := s.waitAnswer(r.Context(), v); err != nil {
		return
	}
	s.done(r.Header.Get(PersonaHeader), v)
	s.setUtilization(w.Header())
	resp.complete(Text(v.completion), v.prompt, v.completion)
	if call != nil {
		resp.Output = []any{*call}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// response is a Responses API response object.
type response struct {
	ID                string               `json:"id"`
	Object            string               `json:"object"`
	CreatedAt         int64                `json:"created_at"`
	Status            string               `json:"status"`
	Model             string               `json:"model"`
	Output            []any                `json:"output"`
	ParallelToolCalls bool                 `json:"parallel_tool_calls"`
	ToolChoice        string               `json:"tool_choice"`
	Tools             []any                `json:"tools"`
	Usage             *chat.ResponsesUsage `json:"usage"`
}

// outputItem is a message item of a response's output.
type outputItem struct {
	ID      string       `json:"id"`
	Type    string       `json:"type"`
	Status  string       `json:"status"`
	Role    string       `json:"role"`
	Content []outputText `json:"content"`
}

// outputText is an output_text content part.
type outputText struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
}

func (s *Server) newResponse(model string) *response {
	return &response{ID: fmt.Sprintf("resp_mock%d", s.seq.Add(1)), Object: "response", CreatedAt: s.cfg.Clock.Now().Unix(),
		Status: "in_progress", Model: model, Output: []any{}, ParallelToolCalls: true, ToolChoice: "auto", Tools: []any{}}
}

// item is the response's message item with text, in status.
func (r *response) item(text, status string) outputItem {
	return outputItem{ID: "msg_" + r.ID[len("resp_"):], Type: "message", Status: status, Role: "assistant",
		Content: []outputText{{Type: "output_text", Text: text, Annotations: []any{}}}}
}

// complete fills r as completed with text and its usage.
func (r *response) complete(text string, prompt, completion int64) {
	r.Status, r.Output = "completed", []any{r.item(text, "completed")}
	r.setUsage(prompt, completion)
}

// setUsage sets r's usage for prompt and completion tokens.
func (r *response) setUsage(prompt, completion int64) {
	r.Usage = chat.NewResponsesUsage(prompt, completion)
}

// streamResponse sends a response as the Responses API streams it:
// response.created, response.in_progress, the output item and content part
// added, output_text deltas of chunkTokens words paced by the latency
// model, the text, part and item done, and response.completed with the
// usage. It reports whether the stream was sent to the end.
func (s *Server) streamResponse(w http.ResponseWriter, r *http.Request, resp *response, prompt, completion int64) bool {
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
	itemID := resp.item("", "").ID
	part := func(text string) map[string]any {
		return map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0,
			"part": outputText{Type: "output_text", Text: text, Annotations: []any{}}}
	}
	event("response.created", map[string]any{"response": resp})
	event("response.in_progress", map[string]any{"response": resp})
	if s.sleep(r.Context(), s.cfg.FirstTokenDelay) != nil {
		return false
	}
	empty := resp.item("", "in_progress")
	empty.Content = []outputText{}
	event("response.output_item.added", map[string]any{"output_index": 0, "item": empty})
	event("response.content_part.added", part(""))
	var text string
	for sent := int64(0); sent < completion; sent += chunkTokens {
		n := min(chunkTokens, completion-sent)
		delta := Text(n)
		if sent > 0 {
			delta = " " + delta
		}
		if s.sleep(r.Context(), s.chunkDelay(n)) != nil {
			return false
		}
		text += delta
		event("response.output_text.delta", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0,
			"delta": delta, "logprobs": []any{}})
	}
	event("response.output_text.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0,
		"text": text, "logprobs": []any{}})
	event("response.content_part.done", part(text))
	event("response.output_item.done", map[string]any{"output_index": 0, "item": resp.item(text, "completed")})
	resp.complete(text, prompt, completion)
	event("response.completed", map[string]any{"response": resp})
	return true
}

// sseWriter starts an event stream on w and returns its sender: an event
// named name ("" for none) with v as its data, flushed.
func sseWriter(w http.ResponseWriter) (func(name string, v any), bool) {
	fl, ok := w.(http.Flusher)
	if !ok {
		chat.WriteError(w, http.StatusInternalServerError, "server_error", "no_flush", "streaming unsupported")
		return nil, false
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return func(name string, v any) {
		b, _ := json.Marshal(v)
		if name != "" {
			fmt.Fprintf(w, "event: %s\n", name)
		}
		fmt.Fprintf(w, "data: %s\n\n", b)
		fl.Flush()
	}, true
}

// handleCompletions serves POST /v1/completions and
// /openai/deployments/{deployment}/completions: a text_completion with its
// usage, or a stream of text_completion chunks (with a usage chunk when
// stream_options.include_usage asks for it) and [DONE].
func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	if !checkAPIVersion(w, r, chat.OpCompletions) {
		return
	}
	var req chat.CompletionsRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&req); err != nil {
		chat.WriteError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "parse request body: "+err.Error())
		return
	}
	model := req.Model
	if d := r.PathValue("deployment"); d != "" && model == "" {
		model = d
	}
	v := s.decide(r.Context(), request{model: model, maxOut: req.MaxOutput(), given: true, invalid: req.Validate(),
		prompt: func() (int64, error) {
			text, ids, _ := req.PromptText()
			n, err := s.counter.Text(model, text)
			return n + ids, err
		}})
	if !s.writeVerdict(w, v) {
		return
	}
	id := fmt.Sprintf("cmpl-mock%d", s.seq.Add(1))
	created := s.cfg.Clock.Now().Unix()
	usage := &chat.Usage{PromptTokens: v.prompt, CompletionTokens: v.completion, TotalTokens: v.prompt + v.completion}
	choice := func(text string, finish any) map[string]any {
		return map[string]any{"text": text, "index": 0, "logprobs": nil, "finish_reason": finish}
	}
	obj := func(choices []map[string]any, u *chat.Usage) map[string]any {
		o := map[string]any{"id": id, "object": "text_completion", "created": created, "model": model, "choices": choices}
		if u != nil {
			o["usage"] = u
		}
		return o
	}
	if !req.Stream {
		if err := s.waitAnswer(r.Context(), v); err != nil {
			return
		}
		s.done(r.Header.Get(PersonaHeader), v)
		s.setUtilization(w.Header())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(obj([]map[string]any{choice(Text(v.completion), "stop")}, usage))
		return
	}
	send, ok := sseWriter(w)
	if !ok || s.sleep(r.Context(), s.cfg.FirstTokenDelay) != nil {
		return
	}
	for sent := int64(0); sent < v.completion; sent += chunkTokens {
		n := min(chunkTokens, v.completion-sent)
		text := Text(n)
		if sent > 0 {
			text = " " + text
		}
		if s.sleep(r.Context(), s.chunkDelay(n)) != nil {
			return
		}
		send("", obj([]map[string]any{choice(text, nil)}, nil))
	}
	send("", obj([]map[string]any{choice("", "stop")}, nil))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage && !s.cfg.OmitStreamUsage {
		send("", obj([]map[string]any{}, usage))
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	w.(http.Flusher).Flush()
	s.done(r.Header.Get(PersonaHeader), v)
}
