package mockllm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiload/aiload/gateway/mockllm"
)

// postPath posts b to path on url and returns the status and body.
func postPath(t *testing.T, url, path, b string) (int, string) {
	t.Helper()
	resp, err := http.Post(url+path, "application/json", strings.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// TestAPIVersions: the Azure routes take the api-version values Azure
// lists; an unknown one, or one from before the Responses API on
// /openai/responses, gets Azure's 400; the v1 routes take none.
func TestAPIVersions(t *testing.T) {
	t.Parallel()
	url := serve(t, mockllm.Config{Seed: 1})
	resp := `{"model":"gpt-4o","input":"hello","max_output_tokens":16}`
	const notSupported = `{"error":{"code":"BadRequest","message":"API version not supported"}}`
	for _, c := range []struct {
		path, body string
		status     int
		want       string // the exact body, when set
	}{
		{"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", body, 200, ""},
		{"/openai/deployments/gpt-4o/chat/completions?api-version=2025-04-01-preview", body, 200, ""},
		{"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-22", body, 400, notSupported},
		{"/openai/deployments/gpt-4o/chat/completions?api-version=latest", body, 400, notSupported},
		{"/openai/deployments/gpt-4o/chat/completions", body, 404, `{"error":{"code":"404","message":"Resource not found"}}`},
		{"/openai/deployments/d/completions?api-version=2022-12-01", `{"prompt":"hi","max_tokens":3}`, 200, ""},
		{"/openai/responses?api-version=2025-03-01-preview", resp, 200, ""},
		{"/openai/responses?api-version=2024-10-21", resp, 400, notSupported},
		{"/openai/v1/responses", resp, 200, ""},
		{"/openai/v1/responses?api-version=preview", resp, 200, ""},
		{"/openai/v1/responses?api-version=2024-10-21", resp, 400, notSupported},
		{"/v1/chat/completions?api-version=anything", body, 200, ""}, // OpenAI's routes ignore it
	} {
		status, got := postPath(t, url, c.path, c.body)
		if status != c.status || c.want != "" && got != c.want {
			t.Errorf("%s: %d %s; want %d %s", c.path, status, got, c.status, c.want)
		}
	}
}

// TestRequestErrors: missing or empty required parameters get OpenAI's
// error bodies.
func TestRequestErrors(t *testing.T) {
	t.Parallel()
	url := serve(t, mockllm.Config{Seed: 1})
	for _, c := range []struct{ path, body, want string }{
		{"/v1/chat/completions", `{"model":"gpt-4o"}`,
			`{"error":{"message":"Missing required parameter: 'messages'.","type":"invalid_request_error","param":"messages","code":"missing_required_parameter"}}`},
		{"/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`,
			`{"error":{"message":"Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.","type":"invalid_request_error","param":"messages","code":"empty_array"}}`},
		{"/v1/responses", `{"model":"gpt-4o"}`,
			`{"error":{"message":"Missing required parameter: 'input'.","type":"invalid_request_error","param":"input","code":"missing_required_parameter"}}`},
		{"/v1/responses", `{"model":"gpt-4o","input":"x","max_output_tokens":15}`,
			`{"error":{"message":"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 15 instead.","type":"invalid_request_error","param":"max_output_tokens","code":"integer_below_min_value"}}`},
		{"/v1/completions", `{"model":"gpt-3.5-turbo-instruct"}`,
			`{"error":{"message":"Missing required parameter: 'prompt'.","type":"invalid_request_error","param":"prompt","code":"missing_required_parameter"}}`},
	} {
		status, got := postPath(t, url, c.path, c.body)
		if status != 400 || strings.TrimSpace(got) != c.want {
			t.Errorf("%s %s: %d %s\nwant 400 %s", c.path, c.body, status, got, c.want)
		}
	}
}

const toolBody = `{"model":"gpt-4o","max_tokens":30,"messages":[{"role":"user","content":"weather?"}%s],
"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]%s}`

// toolAnswer posts a tool-offering request and returns its finish reason
// and the tool call's name and arguments ("" when it answered text).
func toolAnswer(t *testing.T, url, extraMsg, extra string) (finish, name, args string) {
	t.Helper()
	status, b := postPath(t, url, "/v1/chat/completions", strings.ReplaceAll(strings.Replace(strings.Replace(toolBody, "%s", extraMsg, 1), "%s", extra, 1), "\n", ""))
	var r struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
			Message      struct {
				Content   *string `json:"content"`
				ToolCalls []struct {
					Function struct{ Name, Arguments string } `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if status != 200 || json.Unmarshal([]byte(b), &r) != nil || len(r.Choices) != 1 || r.Usage.CompletionTokens != 30 {
		t.Fatalf("%d %s", status, b)
	}
	c := r.Choices[0]
	if len(c.Message.ToolCalls) == 0 {
		if c.Message.Content == nil || *c.Message.Content == "" {
			t.Fatalf("neither text nor tool call: %s", b)
		}
		return c.FinishReason, "", ""
	}
	if c.Message.Content != nil {
		t.Fatalf("a tool call's content must be null: %s", b)
	}
	return c.FinishReason, c.Message.ToolCalls[0].Function.Name, c.Message.ToolCalls[0].Function.Arguments
}

// TestToolCalls: a request offering tools gets a tool call for
// tool_call_share of requests (all by default), text after a tool's
// result and with tool_choice none, a call with tool_choice required.
func TestToolCalls(t *testing.T) {
	t.Parallel()
	url := serve(t, mockllm.Config{Seed: 3, MinFraction: 1})
	finish, name, args := toolAnswer(t, url, "", "")
	var a map[string]string
	if finish != "tool_calls" || name != "get_weather" || json.Unmarshal([]byte(args), &a) != nil || a["city"] == "" {
		t.Fatalf("default share: finish %q, call %s(%s); want a get_weather call with a city", finish, name, args)
	}
	result := `,{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"21C"}`
	if finish, name, _ := toolAnswer(t, url, result, ""); finish != "stop" || name != "" {
		t.Fatalf("after a tool result: finish %q call %q; want text", finish, name)
	}
	if finish, _, _ := toolAnswer(t, url, "", `,"tool_choice":"none"`); finish != "stop" {
		t.Fatalf("tool_choice none: finish %q; want stop", finish)
	}

	none := 0.0
	url = serve(t, mockllm.Config{Seed: 3, MinFraction: 1, ToolCallShare: &none})
	if finish, _, _ := toolAnswer(t, url, "", ""); finish != "stop" {
		t.Fatalf("share 0: finish %q; want stop", finish)
	}
	if finish, _, _ := toolAnswer(t, url, "", `,"tool_choice":"required"`); finish != "tool_calls" {
		t.Fatalf("share 0, tool_choice required: finish %q; want tool_calls", finish)
	}

	half := 0.5
	url = serve(t, mockllm.Config{Seed: 3, MinFraction: 1, ToolCallShare: &half})
	calls := 0
	for range 200 {
		if finish, _, _ := toolAnswer(t, url, "", ""); finish == "tool_calls" {
			calls++
		}
	}
	if calls < 70 || calls > 130 { // binomial(200, 0.5): 100 ± 4.2σ
		t.Fatalf("share 0.5: %d tool calls in 200 requests", calls)
	}
	bad := 1.5
	if err := (mockllm.Config{ToolCallShare: &bad}).Validate(); err == nil || !strings.Contains(err.Error(), "tool_call_share") {
		t.Fatalf("share 1.5 validates: %v", err)
	}
}

// TestResponsesStreamEvents: a streamed response is the Responses API's
// sequence of events, its deltas adding up to the final text and
// response.completed carrying the usage.
func TestResponsesStreamEvents(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(mockllm.New(mockllm.Config{Seed: 1, MinFraction: 1}))
	t.Cleanup(srv.Close)
	status, b := postPath(t, srv.URL, "/v1/responses", `{"model":"gpt-4o","input":"hello there","max_output_tokens":20,"stream":true}`)
	var names []string
	var deltas strings.Builder
	var done string
	type usageBlock struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
		TotalTokens  int64 `json:"total_tokens"`
	}
	var usage usageBlock
	for _, ev := range strings.Split(strings.TrimSpace(b), "\n\n") {
		name, data, _ := strings.Cut(ev, "\n")
		name = strings.TrimPrefix(name, "event: ")
		names = append(names, name)
		var e struct {
			Type, Delta, Text string
			Response          struct {
				Usage *usageBlock `json:"usage"`
			} `json:"response"`
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &e); err != nil || e.Type != name {
			t.Fatalf("event %q: %v", ev, err)
		}
		deltas.WriteString(e.Delta)
		if name == "response.output_text.done" {
			done = e.Text
		}
		if name == "response.completed" {
			usage = *e.Response.Usage
		}
	}
	want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"}
	if status != 200 || strings.Join(names[:4], " ") != strings.Join(want, " ") || names[len(names)-1] != "response.completed" {
		t.Fatalf("%d events %v", status, names)
	}
	if done == "" || deltas.String() != done || usage.OutputTokens != 20 || usage.InputTokens == 0 || usage.TotalTokens != usage.InputTokens+20 {
		t.Fatalf("deltas %q, done %q, usage %+v", deltas.String(), done, usage)
	}
}
