package gateway

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aiload/aiload/gateway/chat"
)

// The Responses API and legacy completions go through the same pipeline as
// chat completions (subscription key, validate-jwt, token limits, the
// backend pool, charging and the record); what differs is read here: the
// request's prompt, stream and completion cap, the answer's usage and text,
// and the field a strict mode's default cap is set in.

// routes registers the gateway's token-metered routes.
func (g *Gateway) routes() {
	for _, r := range []struct {
		pattern, op string
	}{
		{"POST /v1/chat/completions", chat.OpChat},
		{"POST /openai/deployments/{deployment}/chat/completions", chat.OpChat},
		{"POST /v1/responses", chat.OpResponses},
		{"POST /openai/responses", chat.OpResponses},
		{"POST /openai/v1/responses", chat.OpResponses},
		{"POST /v1/completions", chat.OpCompletions},
		{"POST /openai/deployments/{deployment}/completions", chat.OpCompletions},
		{"POST /v1/embeddings", chat.OpEmbeddings},
		{"POST /openai/deployments/{deployment}/embeddings", chat.OpEmbeddings},
	} {
		g.mux.HandleFunc(r.pattern, g.handle(r.op))
	}
}

// routeList names the routes in the 404 of an unknown one.
const routeList = "POST /v1/chat/completions, /v1/responses, /v1/completions, /v1/embeddings, /openai/deployments/{deployment}/chat/completions, /openai/deployments/{deployment}/completions, /openai/deployments/{deployment}/embeddings, /openai/responses and /openai/v1/responses"

// handle serves op's route.
func (g *Gateway) handle(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x := g.newExchange(w, r)
		x.rec.Operation = op
		if strings.HasPrefix(r.URL.Path, "/openai/") {
			x.rec.API = apiAzure
		}
		if !g.headersFit(x) {
			return
		}
		g.serve(x)
	}
}

// op is x's operation.
func (x *exchange) op() string {
	if x.rec.Operation == "" {
		return chat.OpChat
	}
	return x.rec.Operation
}

// readOp parses the body of a Responses, legacy completions or embeddings
// request and accepts it as readRequest accepts a chat request. x.req gets
// what the estimates read: the prompt as messages (Responses) or as text
// (completions and embeddings, see promptText).
func (g *Gateway) readOp(x *exchange, body []byte) bool {
	if json.Valid(body) {
		// as for chat: "MAX_OUTPUT_TOKENS" or a second max_tokens could mean
		// another cap to the backend than the one reserved
		if err := chat.CheckKeysOf(x.op(), body); err != nil {
			g.rejectRequest(x, err)
			return false
		}
	}
	switch x.op() {
	case chat.OpResponses:
		var req chat.ResponsesRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return g.rejectJSON(x, err)
		}
		x.body = body
		x.req.Messages = req.Messages()
		maxOut, _ := req.MaxOutput()
		// A Responses stream always ends with response.completed and its usage.
		return g.accept(x, req.Validate(), req.Model, req.Stream, true, maxOut)
	case chat.OpEmbeddings:
		var req chat.EmbeddingsRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return g.rejectJSON(x, err)
		}
		x.body = body
		invalid := req.Validate()
		if invalid == nil {
			inputs, _ := req.Inputs()
			texts := make([]string, 0, len(inputs))
			for _, in := range inputs {
				texts = append(texts, in.Text)
				x.promptIDs += int64(len(in.IDs))
			}
			x.promptText = strings.Join(texts, "\n")
		}
		// An embedding has no completion: nothing to cap, nothing to stream.
		return g.accept(x, invalid, req.Model, false, false, 0)
	default:
		var req chat.CompletionsRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return g.rejectJSON(x, err)
		}
		x.body = body
		invalid := req.Validate()
		if invalid == nil {
			x.promptText, x.promptIDs, _ = req.PromptText()
		}
		return g.accept(x, invalid, req.Model, req.Stream, req.StreamOptions != nil && req.StreamOptions.IncludeUsage, req.MaxOutput())
	}
}

// estimateText is estimatePrompt for a legacy completions request: its
// prompt's text plus the token ids it gave.
func (g *Gateway) estimateText(x *exchange) int64 {
	n, err := g.counter.Text(x.rec.Model, x.promptText)
	if err != nil {
		n = int64(len(x.promptText) / 4)
	}
	return n + x.promptIDs
}

// opCapField is the field of x's request that caps its completion.
func opCapField(x *exchange) string {
	switch x.op() {
	case chat.OpResponses:
		return "max_output_tokens"
	case chat.OpCompletions:
		return "max_tokens"
	}
	return capField(x.rec.Model)
}

// opUsage charges a complete answer of a Responses, legacy completions or
// embeddings request from its usage block, or counts its text when it has
// none (an embedding's completion is 0 tokens).
func (g *Gateway) opUsage(x *exchange, body []byte) {
	if x.op() == chat.OpEmbeddings {
		var r struct {
			Usage *chat.EmbeddingsUsage `json:"usage"`
		}
		_ = json.Unmarshal(body, &r)
		g.charge(x, r.Usage.Usage(), func() int64 { return 0 })
		return
	}
	if x.op() == chat.OpResponses {
		var r struct {
			Usage *chat.ResponsesUsage `json:"usage"`
		}
		_ = json.Unmarshal(body, &r)
		g.charge(x, r.Usage.Usage(), func() int64 { return g.countCompletion(x, chat.ResponsesOutputText(body)) })
		return
	}
	var r struct {
		Usage *chat.Usage `json:"usage"`
	}
	_ = json.Unmarshal(body, &r)
	g.charge(x, r.Usage, func() int64 { return g.countCompletion(x, chat.CompletionsText(body)) })
}
