package mockllm

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/aiload/aiload/gateway/chat"
)

// Embeddings: the mock answers POST /v1/embeddings and
// /openai/deployments/{d}/embeddings with deterministic vectors and a usage
// block, through the same validation, PTU ceiling, faults, latency and tally
// as its other routes (an embedding has no completion tokens).
//
// The vectors are hashed bags of words, so texts that share most of their
// words point the same way: each text is lower-cased and cut into words
// (runs of letters and digits); every word adds 1 or −1 (the top bit of its
// 64-bit FNV-1a hash) to the coordinate its hash picks modulo the
// dimension; the vector is scaled to length 1. The cosine similarity of two
// texts is then close to the share of words they have in common: two
// 40-word texts differing in 2 words score about 0.95. Token-id inputs hash
// each id as a word. The same text always gets the same vector.

// Embedding dimensions of the models the mock knows; others get
// DefaultEmbeddingDimensions.
var embeddingDimensions = map[string]int{
	"text-embedding-3-large": 3072,
	"text-embedding-3-small": 1536,
	"text-embedding-ada-002": 1536,
}

// DefaultEmbeddingDimensions is the vector size of a model the mock does
// not know, as text-embedding-3-small's.
const DefaultEmbeddingDimensions = 1536

// dimensionsOf is model's vector size, or asked when > 0.
func dimensionsOf(model string, asked int) int {
	if asked > 0 {
		return asked
	}
	if d, ok := embeddingDimensions[strings.ToLower(model)]; ok {
		return d
	}
	return DefaultEmbeddingDimensions
}

// Embed returns the mock's embedding of text in dim dimensions (see above).
func Embed(text string, dim int) []float32 {
	v := make([]float64, dim)
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		addWord(v, w)
	}
	return normalise(v)
}

// embedIDs is Embed for an input given as token ids.
func embedIDs(ids []int64, dim int) []float32 {
	v := make([]float64, dim)
	for _, id := range ids {
		addWord(v, "#"+strconv.FormatInt(id, 10))
	}
	return normalise(v)
}

func addWord(v []float64, w string) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(w))
	s := h.Sum64()
	sign := 1.0
	if s>>63 == 1 {
		sign = -1
	}
	v[s%uint64(len(v))] += sign
}

func normalise(v []float64) []float32 {
	var sum float64
	for _, x := range v {
		sum += x * x
	}
	out := make([]float32, len(v))
	if sum == 0 {
		return out // an input without words: the zero vector
	}
	n := math.Sqrt(sum)
	for i, x := range v {
		out[i] = float32(x / n)
	}
	return out
}

// handleEmbeddings serves the embeddings routes.
func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	if !checkAPIVersion(w, r, chat.OpEmbeddings) {
		return
	}
	var req chat.EmbeddingsRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&req); err != nil {
		chat.WriteError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "parse request body: "+err.Error())
		return
	}
	model := req.Model
	if d := r.PathValue("deployment"); d != "" && model == "" {
		model = d
	}
	invalid := req.Validate()
	if invalid == nil && model == "" {
		invalid = &chat.FieldError{Param: "model", Code: "missing_required_parameter", Msg: "Missing required parameter: 'model'."}
	}
	inputs, _ := req.Inputs()
	v := s.decideEmbeddings(r.Context(), model, inputs, invalid)
	if !s.writeVerdict(w, v) {
		return
	}
	if err := s.wait(r.Context(), 0); err != nil {
		return
	}
	s.done(r.Header.Get(PersonaHeader), v)
	s.setUtilization(w.Header())
	asked := 0
	if req.Dimensions != nil {
		asked = *req.Dimensions
	}
	resp := chat.EmbeddingsResponse{Object: "list", Model: model, Usage: &chat.EmbeddingsUsage{PromptTokens: v.prompt, TotalTokens: v.prompt}}
	for i, in := range inputs {
		resp.Data = append(resp.Data, chat.Embedding{Object: "embedding", Index: i, Vector: embedInput(in, dimensionsOf(model, asked)),
			Base64: req.EncodingFormat == "base64"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func embedInput(in chat.EmbeddingInput, dim int) []float32 {
	if in.IDs != nil {
		return embedIDs(in.IDs, dim)
	}
	return Embed(in.Text, dim)
}

// decideEmbeddings runs an embeddings request through decide: its prompt
// is its inputs' tokens under model's encoding, and it has no completion.
func (s *Server) decideEmbeddings(ctx context.Context, model string, inputs []chat.EmbeddingInput, invalid error) verdict {
	return s.decide(ctx, request{model: model, maxOut: 0, given: true, invalid: invalid,
		prompt: func() (int64, error) {
			var n int64
			for _, in := range inputs {
				n += int64(len(in.IDs))
				if in.Text != "" {
					c, err := s.counter.Text(model, in.Text)
					if err != nil {
						return 0, err
					}
					n += c
				}
			}
			return n, nil
		}})
}

var _ chat.Embedder = (*Server)(nil)

// Embed answers c in process as handleEmbeddings answers the same request.
func (s *Server) Embed(ctx context.Context, c *chat.EmbedCall) *chat.EmbedAnswer {
	model := c.Model
	if c.Deployment != "" && model == "" {
		model = c.Deployment
	}
	inputs := make([]chat.EmbeddingInput, len(c.Input))
	for i, t := range c.Input {
		inputs[i].Text = t
	}
	var invalid error
	if len(inputs) == 0 {
		invalid = &chat.FieldError{Param: "input", Code: "missing_required_parameter", Msg: "Missing required parameter: 'input'."}
	}
	v := s.decideEmbeddings(ctx, model, inputs, invalid)
	if v.kind != serve {
		a := s.refusal(v)
		return &chat.EmbedAnswer{Status: a.Status, Header: a.Header, Err: a.Err, Error: a.Error}
	}
	if err := s.wait(ctx, 0); err != nil {
		return &chat.EmbedAnswer{Err: errGone}
	}
	s.done(c.Header.Get(PersonaHeader), v)
	ans := &chat.EmbedAnswer{Status: http.StatusOK, PromptTokens: v.prompt}
	s.setUtilization(&ans.Header)
	for _, in := range inputs {
		ans.Vectors = append(ans.Vectors, embedInput(in, dimensionsOf(model, c.Dimensions)))
	}
	return ans
}
