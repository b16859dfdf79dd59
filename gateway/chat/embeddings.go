package chat

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// OpEmbeddings is embeddings: /v1/embeddings and
// /openai/deployments/{d}/embeddings.
const OpEmbeddings = "embeddings"

// EmbeddingsRequest is the part of an embeddings request that aiload reads.
// Input is a string, an array of strings, an array of token ids or an array
// of such arrays, kept raw.
type EmbeddingsRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format,omitempty"`
	Dimensions     *int            `json:"dimensions,omitempty"`
	User           string          `json:"user,omitempty"`
}

// Validate checks what every embeddings request must have: an input of
// one of the four shapes, an encoding_format of float or base64, and
// dimensions of at least 1 when given.
func (r *EmbeddingsRequest) Validate() error {
	if in := bytes.TrimSpace(r.Input); len(in) == 0 || bytes.Equal(in, []byte("null")) {
		return missing("input")
	}
	if _, err := r.Inputs(); err != nil {
		return err
	}
	if f := r.EncodingFormat; f != "" && f != "float" && f != "base64" {
		return &FieldError{Param: "encoding_format", Code: "invalid_value",
			Msg: fmt.Sprintf("Invalid value for 'encoding_format': expected one of float or base64, but got %q instead.", f)}
	}
	if r.Dimensions != nil && *r.Dimensions < 1 {
		return &FieldError{Param: "dimensions", Code: "integer_below_min_value",
			Msg: fmt.Sprintf("Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got %d instead.", *r.Dimensions)}
	}
	return nil
}

// EmbeddingInput is one input of an embeddings request: a text, or the
// token ids it gave as numbers.
type EmbeddingInput struct {
	Text string
	IDs  []int64
}

// Inputs returns the request's inputs, one per embedding to answer.
func (r *EmbeddingsRequest) Inputs() ([]EmbeddingInput, error) {
	p := bytes.TrimSpace(r.Input)
	var s string
	if json.Unmarshal(p, &s) == nil {
		return []EmbeddingInput{{Text: s}}, nil
	}
	var ss []string
	if json.Unmarshal(p, &ss) == nil && len(ss) > 0 {
		in := make([]EmbeddingInput, len(ss))
		for i, s := range ss {
			in[i].Text = s
		}
		return in, nil
	}
	var ids []int64
	if json.Unmarshal(p, &ids) == nil && len(ids) > 0 {
		return []EmbeddingInput{{IDs: ids}}, nil
	}
	var idss [][]int64
	if json.Unmarshal(p, &idss) == nil && len(idss) > 0 {
		in := make([]EmbeddingInput, len(idss))
		for i, ids := range idss {
			in[i].IDs = ids
		}
		return in, nil
	}
	return nil, &FieldError{Param: "input", Code: "invalid_type",
		Msg: "Invalid type for 'input': expected one of a non-empty string, array of strings, array of integers or array of arrays of integers."}
}

// EmbeddingsUsage is the usage block of an embeddings answer.
type EmbeddingsUsage struct {
	PromptTokens int64 `json:"prompt_tokens"`
	TotalTokens  int64 `json:"total_tokens"`
}

// Usage returns u as a chat completions usage block (no completion).
func (u *EmbeddingsUsage) Usage() *Usage {
	if u == nil {
		return nil
	}
	return &Usage{PromptTokens: u.PromptTokens, TotalTokens: u.TotalTokens}
}

// EmbeddingsResponse is an embeddings answer: one embedding per input, in
// input order.
type EmbeddingsResponse struct {
	Object string           `json:"object"`
	Data   []Embedding      `json:"data"`
	Model  string           `json:"model"`
	Usage  *EmbeddingsUsage `json:"usage"`
}

// Embedding is one embedding of an answer. Vector is written as an array of
// numbers, or with encoding_format base64 as the base64 of its float32
// values, little-endian (as OpenAI sends it).
type Embedding struct {
	Object string
	Index  int
	Vector []float32
	Base64 bool
}

// MarshalJSON writes e as OpenAI does.
func (e Embedding) MarshalJSON() ([]byte, error) {
	b := []byte(`{"object":"embedding","index":`)
	b = strconv.AppendInt(b, int64(e.Index), 10)
	b = append(b, `,"embedding":`...)
	if e.Base64 {
		raw := make([]byte, 4*len(e.Vector))
		for i, v := range e.Vector {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		b = strconv.AppendQuote(b, base64.StdEncoding.EncodeToString(raw))
		return append(b, '}'), nil
	}
	b = append(b, '[')
	for i, v := range e.Vector {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	}
	return append(b, "]}"...), nil
}

// UnmarshalJSON reads an embedding written as an array of numbers or as
// base64.
func (e *Embedding) UnmarshalJSON(data []byte) error {
	var raw struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	e.Object, e.Index = raw.Object, raw.Index
	var s string
	if json.Unmarshal(raw.Embedding, &s) == nil {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b)%4 != 0 {
			return fmt.Errorf("embedding %d: not the base64 of float32 values", raw.Index)
		}
		e.Vector, e.Base64 = make([]float32, len(b)/4), true
		for i := range e.Vector {
			e.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return nil
	}
	return json.Unmarshal(raw.Embedding, &e.Vector)
}

// Embedder computes embeddings in process: the built-in mock does, so a
// simulation's gateway reaches its embeddings backend without the wire.
type Embedder interface {
	Embed(ctx context.Context, c *EmbedCall) *EmbedAnswer
}

// EmbedCall is an embeddings request handed over in process.
type EmbedCall struct {
	// Deployment is the Azure route's {deployment}; "" for /v1/embeddings.
	Deployment string
	Header     Header
	Model      string
	Input      []string
	// Dimensions is the vector size asked for; 0 = the model's.
	Dimensions int
}

// EmbedAnswer is an embeddings answer in process.
type EmbedAnswer struct {
	Status int
	Header Header
	// Err is set when there is no answer at all.
	Err error
	// Error is the error body of an answer that is not a 200.
	Error *ErrorDetail
	// Vectors holds one embedding per input, in input order.
	Vectors [][]float32
	// PromptTokens is the usage's prompt_tokens (= total_tokens).
	PromptTokens int64
}
