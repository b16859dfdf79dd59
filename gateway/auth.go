package gateway

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/record"
)

// keyring finds a subscription by key. Keys are looked up by their SHA-256
// digest and then compared in constant time, so neither the lookup nor the
// comparison depends on how much of a guessed key is right.
type keyring map[[32]byte]keyEntry

type keyEntry struct {
	key string
	sub *Subscription
}

func newKeyring(subs []Subscription) keyring {
	k := keyring{}
	for i := range subs {
		for _, key := range []string{subs[i].Key, subs[i].SecondaryKey} {
			if key != "" {
				k[sha256.Sum256([]byte(key))] = keyEntry{key: key, sub: &subs[i]}
			}
		}
	}
	return k
}

func (k keyring) find(key string) *Subscription {
	e, ok := k[sha256.Sum256([]byte(key))]
	if !ok || subtle.ConstantTimeCompare([]byte(e.key), []byte(key)) != 1 {
		return nil
	}
	return e.sub
}

// authenticate resolves the subscription key (Ocp-Apim-Subscription-Key or
// api-key header, else the subscription-key query parameter, else, when
// validate-jwt is off, an Authorization bearer value as OpenAI SDKs send
// their API key) or answers 401.
func (g *Gateway) authenticate(x *exchange) bool {
	key := x.header("Ocp-Apim-Subscription-Key")
	if key == "" {
		key = x.header("Api-Key")
	}
	if key == "" {
		key = x.query("subscription-key")
	}
	if bearer, ok := strings.CutPrefix(x.header("Authorization"), "Bearer "); key == "" && ok && g.jwt == nil {
		key = strings.TrimSpace(bearer)
	}
	if key == "" {
		g.refuseKey(x, "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.")
		return false
	}
	sub := g.keys.find(key)
	if sub == nil {
		g.refuseKey(x, "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.")
		return false
	}
	x.sub = sub
	x.rec.SubscriptionID, x.rec.Product, x.rec.Team = sub.ID, sub.Product, sub.Team
	return true
}

// refuseKey answers 401 for a missing or invalid subscription key, with
// wire apim as API Management does (its body and WWW-Authenticate).
func (g *Gateway) refuseKey(x *exchange, msg string) {
	if g.apim() {
		x.setHeader("WWW-Authenticate", x.keyChallenge())
		g.rejectAPIM(x, http.StatusUnauthorized, record.OutcomeUnauthorized, msg)
		return
	}
	g.reject(x, http.StatusUnauthorized, record.OutcomeUnauthorized, "authentication_error", "401", msg)
}

// validateJWT applies validate-jwt when configured, or answers 401.
func (g *Gateway) validateJWT(x *exchange) bool {
	if g.jwt == nil {
		g.setUser(x)
		return true
	}
	claims, err := g.jwt.validate(x.ctx(), x.header, x.query)
	if err != nil {
		status, outcome := cmp.Or(g.cfg.JWT.FailedValidationHTTPCode, http.StatusUnauthorized), record.OutcomeUnauthorized
		if status == http.StatusForbidden {
			outcome = record.OutcomeForbidden
		}
		if pe := (*privateError)(nil); errors.As(err, &pe) {
			g.opts.Logf("request %s: validate-jwt: %v", x.rec.RequestID, pe.err)
		}
		if g.apim() {
			// API Management's own wording unless the policy gives one.
			msg := "Invalid JWT."
			if mt := (*missingTokenError)(nil); errors.As(err, &mt) {
				msg = "JWT not present."
			}
			g.rejectAPIM(x, status, outcome, cmp.Or(g.cfg.JWT.FailedValidationErrorMessage, msg))
			return false
		}
		msg := cmp.Or(g.cfg.JWT.FailedValidationErrorMessage, "Unauthorized. Access token is missing or invalid: "+err.Error())
		g.reject(x, status, outcome, "authentication_error", "invalid_token", msg)
		return false
	}
	x.claims = claims
	g.setUser(x)
	return true
}

// setUser fills record.user_id from the configured header, else the JWT subject.
func (g *Gateway) setUser(x *exchange) {
	if h := g.cfg.UserIDHeader; h != "" {
		if v := x.header(h); v != "" {
			x.rec.UserID = v
			return
		}
	}
	if v, ok := g.claim(x, "sub"); ok {
		x.rec.UserID = v
	}
}

// claim returns a claim of the caller's JWT: the validated one, or, without
// validate-jwt, the bearer token in Authorization read without verifying it
// (as API Management's AsJwt() does).
func (g *Gateway) claim(x *exchange, name string) (string, bool) {
	if x.claims == nil && g.jwt == nil {
		x.claims = unverifiedClaims(x.header("Authorization"))
	}
	v, ok := x.claims[name]
	if !ok || v == nil {
		return "", false
	}
	switch t := v.(type) {
	case string:
		return t, true
	case []any:
		parts := make([]string, len(t))
		for i, p := range t {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, " "), true
	case float64:
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%f", t), "0"), "."), true
	}
	return fmt.Sprint(v), true
}

// unverifiedClaims are the claims of a bearer token in auth, read without
// verifying it: nil without a bearer token (nothing to cache, so claim
// looks again, as cheaply), empty for one that cannot be read.
func unverifiedClaims(auth string) map[string]any {
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return nil
	}
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return map[string]any{}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	m := map[string]any{}
	if err != nil || json.Unmarshal(b, &m) != nil {
		return map[string]any{}
	}
	return m
}

// facts are what counter keys and dimensions resolve from.
func (g *Gateway) facts(x *exchange) policy.Facts {
	return policy.Facts{
		SubscriptionID: x.rec.SubscriptionID, ClientIP: x.rec.ClientIP, Product: x.rec.Product, API: x.rec.API,
		UserID: x.rec.UserID, Operation: x.rec.Operation,
		Header: func(n string) (string, bool) {
			v := x.headerValues(n)
			if len(v) == 0 {
				return "", false
			}
			return v[0], true
		},
		Claim: func(n string) (string, bool) { return g.claim(x, n) },
	}
}

// readRequest reads and parses the chat request (an in-process one comes
// parsed), checks that a backend serves its deployment or model, and notes
// its completion cap; else it answers 4xx. Nothing here reaches a backend.
func (g *Gateway) readRequest(x *exchange) bool {
	if x.call != nil {
		b := &x.call.Body
		return g.accept(x, b.Validate(), b.Model, b.Stream, b.IncludeUsage, b.MaxTokens)
	}
	body, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, g.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		g.reject(x, http.StatusRequestEntityTooLarge, record.OutcomeBadRequest, "invalid_request_error", "request_too_large",
			fmt.Sprintf("request body exceeds %d bytes", g.cfg.MaxBodyBytes))
		return false
	case err != nil:
		g.reject(x, http.StatusBadRequest, record.OutcomeBadRequest, "invalid_request_error", "invalid_body", "read request body: "+err.Error())
		return false
	}
	if x.op() != chat.OpChat {
		return g.readOp(x, body)
	}
	if err := json.Unmarshal(body, &x.req); err != nil {
		return g.rejectJSON(x, err)
	}
	if err := chat.CheckKeys(body); err != nil {
		// The gateway must decide on what it forwards: "MAX_TOKENS" or a
		// second max_tokens could mean another cap to the backend.
		g.rejectRequest(x, err)
		return false
	}
	x.body = body
	maxOut, _ := x.req.MaxOutput()
	return g.accept(x, x.req.Validate(), x.req.Model, x.req.Stream, x.req.StreamOptions != nil && x.req.StreamOptions.IncludeUsage, maxOut)
}

// rejectJSON answers a body that does not decode: a value of the wrong
// type is named by its field, as OpenAI words it. It returns false.
func (g *Gateway) rejectJSON(x *exchange, err error) bool {
	var wrongType *json.UnmarshalTypeError
	if errors.As(err, &wrongType) {
		msg := fmt.Sprintf("Invalid type for '%s': expected %s, but got %s instead.", wrongType.Field, jsonKind(wrongType.Type), article(wrongType.Value))
		if wrongType.Field == "" {
			msg = fmt.Sprintf("We could not parse the JSON body of your request: expected an object, but got %s instead.", article(wrongType.Value))
			g.reject(x, http.StatusBadRequest, record.OutcomeBadRequest, "invalid_request_error", "invalid_type", msg)
			return false
		}
		g.rejectRequest(x, &chat.FieldError{Param: wrongType.Field, Code: "invalid_type", Msg: msg})
		return false
	}
	g.reject(x, http.StatusBadRequest, record.OutcomeBadRequest, "invalid_request_error", "invalid_json",
		"We could not parse the JSON body of your request: "+err.Error())
	return false
}

// jsonKind names what JSON value a Go type decodes from, as OpenAI's
// "Invalid type" errors do (the caller never sees Go type names).
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value"
}

// article puts "a" or "an" before the JSON kind encoding/json names
// ("string", "array", "object", "number ...", "bool").
func article(v string) string {
	v, _, _ = strings.Cut(v, " ") // "number 1.5"
	if v == "bool" {
		v = "boolean"
	}
	if v != "" && strings.ContainsRune("aeiou", rune(v[0])) {
		return "an " + v
	}
	return "a " + v
}

// accept takes a parsed request's fields (invalid is its validation's
// error) and checks that some backend serves its deployment or model; else
// it answers 4xx.
func (g *Gateway) accept(x *exchange, invalid error, model string, stream, wantsUsage bool, maxOut int64) bool {
	if invalid != nil {
		g.rejectRequest(x, invalid)
		return false
	}
	x.stream, x.wantsUse, x.rec.Stream = stream, wantsUsage, stream
	if x.rec.Model == "" {
		x.rec.Model = model
	}
	if x.rec.Model == "" {
		g.reject(x, http.StatusBadRequest, record.OutcomeBadRequest, "invalid_request_error", "missing_model",
			"you must provide a model parameter")
		return false
	}
	if !g.pool.known(x.rec.Model) {
		code, msg := "model_not_found", fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", x.rec.Model)
		if x.deployment != "" {
			code, msg = "DeploymentNotFound", fmt.Sprintf("The API deployment for this resource does not exist: %s", x.deployment)
		}
		g.reject(x, http.StatusNotFound, record.OutcomeBadRequest, "invalid_request_error", code, msg)
		return false
	}
	x.maxOut = maxOut
	return true
}

// promptTokens is x's estimated prompt tokens, counted on first use: a
// request admitted with estimation off and answered with a usage block
// never runs the tokenizer.
func (g *Gateway) promptTokens(x *exchange) int64 {
	if !x.prompted {
		x.prompt, x.prompted = g.estimatePrompt(x), true
	}
	return x.prompt
}

// imageTokens is what an estimate counts per image part: API Management
// "over-counts each image as a maximum count of 1200 tokens" when it
// estimates.
const imageTokens = 1200

// estimatePrompt counts the prompt tokens with the model's BPE encoding
// (unknown models: o200k_base) plus imageTokens per image; if the
// tokenizer fails, a quarter of the body's bytes. An in-process request's
// messages may come with their texts' counts (see chat.Msg.Tokens).
func (g *Gateway) estimatePrompt(x *exchange) int64 {
	if x.call != nil {
		return g.estimateCall(x)
	}
	if x.op() == chat.OpCompletions || x.op() == chat.OpEmbeddings {
		return g.estimateText(x)
	}
	n, err := g.counter.Prompt(x.rec.Model, x.req.Messages)
	if err != nil {
		return int64(len(x.body) / 4)
	}
	for _, m := range x.req.Messages {
		n += int64(m.Images()) * imageTokens
	}
	return n
}

// estimateCall is estimatePrompt for an in-process request: its messages'
// texts are counted unless their counts came with them; if the tokenizer
// fails, a quarter of the texts' bytes.
func (g *Gateway) estimateCall(x *exchange) int64 {
	if x.op() == chat.OpCompletions {
		x.promptText = x.call.Body.PromptText()
		return g.estimateText(x)
	}
	msgs := x.call.Body.Messages
	n, err := g.counter.Messages(x.rec.Model, msgs)
	if err != nil {
		size := 0
		for _, m := range msgs {
			size += len(m.Text)
		}
		return int64(size / 4)
	}
	return n
}
