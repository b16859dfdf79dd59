package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/tokens"
	"github.com/aiload/aiload/record"
)

// records waits (bounded) until the sink holds n records: a stream's
// record is written once the stream has been relayed, which may be just
// after the client read its end.
func records(t *testing.T, e *env, n int) []record.Record {
	t.Helper()
	for i := 0; i < 500 && len(e.sink.all()) < n; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	all := e.sink.all()
	if len(all) < n {
		t.Fatalf("%d records, want %d", len(all), n)
	}
	return all
}

// sdkClient is an OpenAI SDK client of the gateway at url with key.
func sdkClient(url, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

// typed429 reports whether err is the SDK's typed 429 with the gateway's
// rate_limit_error.
func typed429(err error) bool {
	var apiErr *openai.Error
	return errors.As(err, &apiErr) && apiErr.StatusCode == 429 && apiErr.Type == "rate_limit_error"
}

// TestResponsesSDK sends Responses API requests with the official SDK
// through the gateway: the answer's usage is in the record (operation
// responses), streams charge the usage of response.completed, and the
// token limit estimates input + max_output_tokens and refuses what does
// not fit before any backend sees it.
func TestResponsesSDK(t *testing.T) {
	t.Parallel()
	mock, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 400, estimate_prompt_tokens: true}]}]
subscriptions: [{id: s1, key: resp-key-1, product: p, team: t}]
`, url, nil)
	client := sdkClient(e.url, "resp-key-1")
	ctx := context.Background()
	params := responses.ResponseNewParams{
		Model:           "gpt-4o-mini",
		Instructions:    openai.String("Answer briefly."),
		Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello to the load test.")},
		MaxOutputTokens: openai.Int(100),
	}
	resp, err := client.Responses.New(ctx, params)
	if err != nil {
		t.Fatalf("response: %v", err)
	}
	// the prompt as the backend bills it, counted independently
	want, _ := tokens.NewCounter().Text("gpt-4o-mini", "Say hello to the load test.")
	r := e.sink.last(t)
	if resp.Usage.OutputTokens != 100 || resp.Usage.InputTokens < want || resp.OutputText() == "" || resp.Status != "completed" {
		t.Fatalf("response usage %+v status %q text %q; want 100 output tokens, input >= %d", resp.Usage, resp.Status, resp.OutputText(), want)
	}
	if r.Operation != "responses" || r.API != "openai" || r.PromptTokens != resp.Usage.InputTokens || r.CompletionTokens != 100 ||
		r.TotalTokens != resp.Usage.TotalTokens || r.TokensEstimated || r.Status != 200 {
		t.Fatalf("record %+v; want operation responses with the answer's usage %+v", r, resp.Usage)
	}

	stream := client.Responses.NewStreaming(ctx, params)
	var text strings.Builder
	var done responses.Response
	var types []string
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			done = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if types[0] != "response.created" || types[len(types)-1] != "response.completed" || done.Usage.OutputTokens != 100 || text.String() == "" {
		t.Fatalf("stream events %v, usage %+v, text %q", types, done.Usage, text.String())
	}
	r = records(t, e, 2)[1]
	if !r.Stream || r.Operation != "responses" || r.PromptTokens != done.Usage.InputTokens || r.CompletionTokens != done.Usage.OutputTokens ||
		r.TotalTokens != done.Usage.TotalTokens || r.TokensEstimated || r.TTFTMS <= 0 {
		t.Fatalf("stream record %+v; want the usage of response.completed %+v", r, done.Usage)
	}

	// 2 × (prompt + 100) are used of 400: the third request fits, the
	// fourth is admitted while tokens are left and crosses the limit (as
	// API Management admits it), the fifth is refused
	var refused error
	for i := 0; i < 5 && refused == nil; i++ {
		if _, err := client.Responses.New(ctx, params); err != nil {
			refused = err
		}
	}
	if !typed429(refused) {
		t.Fatalf("want a typed 429 once the limit is used up, got %v", refused)
	}
	r = e.sink.last(t)
	if r.Operation != "responses" || r.Outcome != record.OutcomeThrottled || r.CompletionTokens != 100 || r.PromptTokens != resp.Usage.InputTokens || !r.TokensEstimated {
		t.Fatalf("refused record %+v; want the estimate: input %d + max_output_tokens 100", r, resp.Usage.InputTokens)
	}
	if ok := countOutcome(e.sink.all(), record.OutcomeOK); ok != 4 || mock.Total().Requests > 4 {
		t.Fatalf("%d answered records, backend saw %d requests; want 4 (the refused one never reaches it)", ok, mock.Total().Requests)
	}
}

// TestResponsesSDKAzure uses the SDK's Azure mode for the Responses API
// (/openai/responses?api-version=…): a version that serves it passes, one
// Azure does not know gets Azure's 400 from the backend, relayed.
func TestResponsesSDKAzure(t *testing.T) {
	t.Parallel()
	_, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, `
backend: {deployments: [resp-4o-mini]}
products: [{name: p, tokens_per_minute: 100000}]
subscriptions: [{id: s1, key: azure-resp-1, product: p, team: t}]
`, url, nil)
	newClient := func(version string) openai.Client {
		return openai.NewClient(azure.WithEndpoint(e.url, version), azure.WithAPIKey("azure-resp-1"), azure.WithUnsafeAllowHTTP(), option.WithMaxRetries(0))
	}
	params := responses.ResponseNewParams{Model: "resp-4o-mini", MaxOutputTokens: openai.Int(20),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello.")}}
	client := newClient("2025-04-01-preview")
	resp, err := client.Responses.New(context.Background(), params)
	if err != nil {
		t.Fatalf("response through the Azure route: %v", err)
	}
	r := e.sink.last(t)
	if resp.Usage.OutputTokens != 20 || r.API != "azure-openai" || r.Operation != "responses" || r.Model != "resp-4o-mini" || r.TotalTokens != resp.Usage.TotalTokens {
		t.Fatalf("usage %+v, record %+v", resp.Usage, r)
	}
	for _, v := range []string{"2099-01-01", "2024-10-21"} { // unknown; GA but before the Responses API
		client := newClient(v)
		_, err = client.Responses.New(context.Background(), params)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "BadRequest" || apiErr.Message != "API version not supported" {
			t.Fatalf("api-version %s: %v; want Azure's 400 API version not supported", v, err)
		}
	}
}

// TestCompletionsSDK sends legacy completions with the official SDK,
// plain, streamed and through the Azure deployment route: usage in the
// record (operation completions); a request without max_tokens is
// estimated at OpenAI's default of 16.
func TestCompletionsSDK(t *testing.T) {
	t.Parallel()
	_, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 120, estimate_prompt_tokens: true}]}]
subscriptions: [{id: s1, key: cmpl-key-1, product: p, team: t}]
`, url, nil)
	client := sdkClient(e.url, "cmpl-key-1")
	ctx := context.Background()
	prompt := "Write a tagline for an ice cream shop."
	params := openai.CompletionNewParams{Model: "gpt-3.5-turbo-instruct", MaxTokens: openai.Int(20),
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)}}
	c, err := client.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("completion: %v", err)
	}
	want, _ := tokens.NewCounter().Text("gpt-3.5-turbo-instruct", prompt)
	r := e.sink.last(t)
	if c.Usage.CompletionTokens != 20 || c.Usage.PromptTokens != want || c.Choices[0].Text == "" || c.Choices[0].FinishReason != "stop" {
		t.Fatalf("completion %+v; want 20 completion tokens and %d prompt tokens", c, want)
	}
	if r.Operation != "completions" || r.PromptTokens != want || r.CompletionTokens != 20 || r.TotalTokens != want+20 || r.TokensEstimated {
		t.Fatalf("record %+v; want operation completions with %d + 20 tokens", r, want)
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Completions.NewStreaming(ctx, params)
	var text strings.Builder
	var usage openai.CompletionUsage
	for stream.Next() {
		ch := stream.Current()
		for _, c := range ch.Choices {
			text.WriteString(c.Text)
		}
		if ch.Usage.TotalTokens > 0 {
			usage = ch.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	r = records(t, e, 2)[1]
	if usage.CompletionTokens != 20 || text.String() == "" || !r.Stream || r.Operation != "completions" || r.TotalTokens != usage.TotalTokens || r.TokensEstimated {
		t.Fatalf("stream usage %+v text %q, record %+v", usage, text.String(), r)
	}

	// 2 × (want + 20) are used of 120; without max_tokens the estimate is
	// want + 16, and the limit refuses once that no longer fits
	params = openai.CompletionNewParams{Model: "gpt-3.5-turbo-instruct", Prompt: params.Prompt}
	var refused error
	for i := 0; i < 4 && refused == nil; i++ {
		_, refused = client.Completions.New(ctx, params)
	}
	r = e.sink.last(t)
	if !typed429(refused) || r.Operation != "completions" || r.Outcome != record.OutcomeThrottled || r.PromptTokens != want || r.CompletionTokens != 16 {
		t.Fatalf("refusal %v, record %+v; want 429 with the estimate %d + 16", refused, r, want)
	}

	az := openai.NewClient(azure.WithEndpoint(e.url, "2024-10-21"), azure.WithAPIKey("cmpl-key-1"), azure.WithUnsafeAllowHTTP(), option.WithMaxRetries(0))
	e.clock.Advance(time.Minute)
	if c, err = az.Completions.New(ctx, openai.CompletionNewParams{Model: "gpt-35-instruct", MaxTokens: openai.Int(5), Prompt: params.Prompt}); err != nil {
		t.Fatalf("completion through /openai/deployments/{d}/completions: %v", err)
	}
	if r = e.sink.last(t); r.API != "azure-openai" || r.Operation != "completions" || r.Model != "gpt-35-instruct" || c.Usage.CompletionTokens != 5 || r.CompletionTokens != 5 {
		t.Fatalf("usage %+v, record %+v", c.Usage, r)
	}
}

// TestToolCallsSDK offers tools to the mock through the gateway: the
// SDK's accumulator reads a streamed tool call (delta.tool_calls chunks,
// finish_reason tool_calls) whose arguments are JSON naming the tool's
// required parameter, the usage is charged, and the limit applies.
func TestToolCallsSDK(t *testing.T) {
	t.Parallel()
	mock, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 200}]}]
subscriptions: [{id: s1, key: tool-key-1, product: p, team: t}]
`, url, nil)
	client := sdkClient(e.url, "tool-key-1")
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:     "gpt-4o-mini",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")},
		MaxTokens: openai.Int(40),
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: "get_weather",
			Parameters: shared.FunctionParameters{"type": "object", "required": []string{"city"},
				"properties": map[string]any{"city": map[string]any{"type": "string"}}},
		})},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	finished := false
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if _, ok := acc.JustFinishedToolCall(); ok {
			finished = true
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(acc.Choices) == 0 || len(acc.Choices[0].Message.ToolCalls) != 1 {
		t.Fatalf("want one tool call, got %+v", acc.Choices)
	}
	call := acc.Choices[0].Message.ToolCalls[0]
	var args map[string]string
	if err := json.Unmarshal([]byte(call.Function.Arguments), &args); err != nil || args["city"] == "" || call.Function.Name != "get_weather" || call.ID == "" {
		t.Fatalf("tool call %+v: arguments %v", call, err)
	}
	if acc.Choices[0].FinishReason != "tool_calls" || !finished || acc.Usage.CompletionTokens != 40 {
		t.Fatalf("finish %q, finished %v, usage %+v", acc.Choices[0].FinishReason, finished, acc.Usage)
	}
	r := records(t, e, 1)[0]
	if !r.Stream || r.Operation != "chat" || r.TotalTokens != acc.Usage.TotalTokens || r.CompletionTokens != 40 || r.TokensEstimated {
		t.Fatalf("record %+v; want the stream's usage %+v", r, acc.Usage)
	}

	// the tool's result goes back: the model answers with text
	params.Messages = append(params.Messages, acc.Choices[0].Message.ToParam(), openai.ToolMessage(`{"temp_c": 21}`, call.ID))
	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil || resp.Choices[0].FinishReason != "stop" || resp.Choices[0].Message.Content == "" {
		t.Fatalf("answer after the tool result: %v %+v", err, resp)
	}
	// the third or fourth request crosses 200 tokens, the next is refused
	var refused error
	sent := 2
	for i := 0; i < 6 && refused == nil; i++ {
		s := client.Chat.Completions.NewStreaming(ctx, params)
		for s.Next() {
		}
		refused = s.Err()
		sent++
	}
	recs := records(t, e, sent) // a stream's record follows its end
	if !typed429(refused) || countOutcome(recs, record.OutcomeThrottled) != 1 {
		t.Fatalf("want a typed 429 once the limit is used up, got %v", refused)
	}
	// the mock tallies a stream once its handler returns, which can be a
	// moment after the gateway relayed the last chunk and wrote the record
	want := sumTokens(recs, record.OutcomeOK)
	got := mock.Total().TotalTokens
	for i := 0; i < 500 && got != want; i++ {
		time.Sleep(10 * time.Millisecond)
		got = mock.Total().TotalTokens
	}
	if got != want {
		t.Fatalf("backend served %d tokens, records of answered requests say %d", got, want)
	}
}

func sumTokens(recs []record.Record, o record.Outcome) int64 {
	n := int64(0)
	for _, r := range recs {
		if r.Outcome == o {
			n += r.TotalTokens
		}
	}
	return n
}

func countOutcome(recs []record.Record, o record.Outcome) int {
	n := 0
	for _, r := range recs {
		if r.Outcome == o {
			n++
		}
	}
	return n
}

// TestOperationRequestErrors: malformed Responses and completions requests
// are answered 400 by the gateway, naming the parameter as OpenAI does, and
// recorded as bad requests of their operation; no backend is called.
func TestOperationRequestErrors(t *testing.T) {
	t.Parallel()
	b := newSpy(t, 20)
	e := start(t, `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, b.srv.URL, nil)
	for _, tc := range []struct{ path, body, op, param, code string }{
		{"/v1/responses", `{"model":"gpt-4o-mini"}`, "responses", "input", "missing_required_parameter"},
		{"/v1/responses", `{"model":"gpt-4o-mini","input":"x","max_output_tokens":8}`, "responses", "max_output_tokens", "integer_below_min_value"},
		{"/v1/responses", `{"model":"gpt-4o-mini","input":"x","stream":"yes"}`, "responses", "stream", "invalid_type"},
		{"/v1/completions", `{"model":"gpt-3.5-turbo-instruct"}`, "completions", "prompt", "missing_required_parameter"},
		{"/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":{"a":1}}`, "completions", "prompt", "invalid_type"},
		{"/openai/deployments/d/completions?api-version=2024-10-21", `{"prompt":"x","max_tokens":-1}`, "completions", "max_tokens", "integer_below_min_value"},
		{"/v1/responses", `{"model":"gpt-4o-mini","input":"x","MAX_OUTPUT_TOKENS":16}`, "responses", "MAX_OUTPUT_TOKENS", "unknown_parameter"},
		{"/v1/responses", `{"model":"gpt-4o-mini","input":[{"role":"user","Content":"x"}]}`, "responses", "input[0].Content", "unknown_parameter"},
		{"/v1/completions", `{"model":"m","prompt":"x","max_tokens":5,"max_tokens":500}`, "completions", "max_tokens", "duplicate_parameter"},
	} {
		a := post(t, e.url, tc.path, "k1", tc.body, nil)
		var got struct {
			Error struct {
				Param *string
				Code  string
			}
		}
		_ = json.Unmarshal(a.body, &got)
		r := e.sink.last(t)
		if a.status != 400 || got.Error.Param == nil || *got.Error.Param != tc.param || got.Error.Code != tc.code ||
			r.Outcome != record.OutcomeBadRequest || r.Operation != tc.op {
			t.Errorf("%s %s: %d %s, record %s/%s; want 400 %s %s, bad_request of %s", tc.path, tc.body, a.status, a.body, r.Outcome, r.Operation, tc.param, tc.code, tc.op)
		}
	}
	if n := b.hits.Load(); n != 0 {
		t.Fatalf("backend called %d times", n)
	}
}

// TestResponsesToolCallSDK offers a function tool to the Responses API
// through the gateway: the SDK reads a streamed function call
// (function_call_arguments deltas, the item done, response.completed with
// the usage the record charges), and the function's output sent back gets
// text.
func TestResponsesToolCallSDK(t *testing.T) {
	t.Parallel()
	_, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 100000}]}]
subscriptions: [{id: s1, key: rtool-key-1, product: p, team: t}]
`, url, nil)
	client := sdkClient(e.url, "rtool-key-1")
	ctx := context.Background()
	params := responses.ResponseNewParams{
		Model:           "gpt-4o-mini",
		Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("What is the weather in Paris?")},
		MaxOutputTokens: openai.Int(40),
		Tools: []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{Name: "get_weather", Strict: openai.Bool(true),
			Parameters: map[string]any{"type": "object", "required": []string{"city"}, "properties": map[string]any{"city": map[string]any{"type": "string"}}}}}},
	}
	stream := client.Responses.NewStreaming(ctx, params)
	var deltas strings.Builder
	var args string
	var done responses.Response
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "response.function_call_arguments.delta":
			deltas.WriteString(ev.Delta)
		case "response.function_call_arguments.done":
			args = ev.Arguments
		case "response.completed":
			done = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	var a map[string]string
	if args == "" || deltas.String() != args || json.Unmarshal([]byte(args), &a) != nil || a["city"] == "" {
		t.Fatalf("arguments %q, deltas %q; want a JSON object with a city", args, deltas.String())
	}
	if len(done.Output) != 1 || done.Output[0].Type != "function_call" || done.Output[0].Name != "get_weather" || done.Output[0].CallID == "" || done.Usage.OutputTokens != 40 {
		t.Fatalf("completed output %+v usage %+v", done.Output, done.Usage)
	}
	r := records(t, e, 1)[0]
	if r.Operation != "responses" || !r.Stream || r.TotalTokens != done.Usage.TotalTokens || r.CompletionTokens != 40 || r.TokensEstimated {
		t.Fatalf("record %+v; want the usage of response.completed %+v", r, done.Usage)
	}

	out := responses.ResponseInputItemParamOfFunctionCallOutput(`{"temp_c": 21}`)
	out.OfFunctionCallOutput.CallID = openai.String(done.Output[0].CallID)
	params.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
		responses.ResponseInputItemParamOfMessage("What is the weather in Paris?", responses.EasyInputMessageRoleUser),
		{OfFunctionCall: &responses.ResponseFunctionToolCallParam{CallID: done.Output[0].CallID, Name: "get_weather", Arguments: args}},
		out,
	}}
	resp, err := client.Responses.New(ctx, params)
	if err != nil || resp.OutputText() == "" || resp.Output[0].Type != "message" {
		t.Fatalf("answer after the function's output: %v %+v", err, resp)
	}
	if r := e.sink.last(t); r.PromptTokens != resp.Usage.InputTokens || r.PromptTokens <= done.Usage.InputTokens {
		t.Fatalf("record prompt %d, answer's input %d; want the grown input (call and output counted)", r.PromptTokens, resp.Usage.InputTokens)
	}
}
