package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheckKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body      string
		wantParam, code string // "" when the body passes
	}{
		// An ordinary request, every field the gateway reads spelled exactly.
		{"ordinary", `{"model":"gpt-4o","max_tokens":5,"stream":true,"stream_options":{"include_usage":true},"user":"u",
			"messages":[{"role":"user","content":"hi","name":"n"},{"role":"user","content":[{"type":"text","text":"x"}]}]}`, "", ""},
		// Go's decoder would read MAX_TOKENS as max_tokens; a backend reading keys exactly would not.
		{"case variant alone", `{"model":"m","MAX_TOKENS":5,"messages":[]}`, "MAX_TOKENS", "unknown_parameter"},
		{"case variants collide", `{"max_tokens":5000,"MAX_TOKENS":5,"model":"m"}`, "MAX_TOKENS", "unknown_parameter"},
		{"model case variant", `{"model":"gpt-4o","MODEL":"gpt-4o-mini"}`, "MODEL", "unknown_parameter"},
		// The last of duplicate keys wins in Go, the first in some backends.
		{"duplicate", `{"max_tokens":5,"model":"m","max_tokens":5000}`, "max_tokens", "duplicate_parameter"},
		{"duplicate through an escape", `{"max_tokens":5,"max\u005ftokens":5000}`, "max_tokens", "duplicate_parameter"},
		// Unicode folding as Go's decoder does it: ſ (U+017F) folds to s, K (U+212A) to k.
		{"long s", `{"ſtream":true}`, "ſtream", "unknown_parameter"},
		{"kelvin sign", `{"max_to\u212aens":5}`, "max_to\u212aens", "unknown_parameter"},
		// Nested objects the gateway reads.
		{"message content", `{"messages":[{"role":"user","content":"a"},{"role":"user","content":"a","CONTENT":"b"}]}`,
			"messages[1].CONTENT", "unknown_parameter"},
		{"content part under a message", `{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"TYPE":"image_url"}]}]}`,
			"messages[0].content[1].TYPE", "unknown_parameter"},
		{"duplicate role", `{"messages":[{"role":"user","role":"system","content":"a"}]}`, "messages[0].role", "duplicate_parameter"},
		{"content part", `{"messages":[{"role":"user","content":[{"type":"text","text":"a","Text":"b"}]}]}`,
			"messages[0].content[0].Text", "unknown_parameter"},
		{"stream options", `{"stream_options":{"Include_Usage":false}}`, "stream_options.Include_Usage", "unknown_parameter"},
		// Strings holding quotes, braces and backslashes do not confuse the scan.
		{"tricky strings", `{"messages":[{"role":"user","content":"a \"}\" {[ \\"}],"user":"\\\\","max_tokens":5,"MAX_TOKENS":1}`,
			"MAX_TOKENS", "unknown_parameter"},
		// Keys the gateway does not read are the backend's business.
		{"other keys", `{"Foo":1,"foo":2,"tools":[{"type":"function","function":{"parameters":{"properties":{"Name":{},"name":{}}}}}],
			"messages":[{"role":"user","content":"x","Tool_Calls":[],"tool_calls":[]}],"model":"m"}`, "", ""},
		{"not an object", `null`, "", ""},
		{"nested values of every kind", `{"x":[1,-2.5e3,true,false,null,{"a":[{}]},"s"],"model":"m","MODEL":"n"}`, "MODEL", "unknown_parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !json.Valid([]byte(tc.body)) {
				t.Fatalf("test body is not valid JSON: %s", tc.body)
			}
			err := CheckKeys([]byte(tc.body))
			var fe *FieldError
			switch {
			case tc.wantParam == "" && err != nil:
				t.Fatalf("CheckKeys(%s) = %v, want nil", tc.body, err)
			case tc.wantParam != "" && (!errors.As(err, &fe) || fe.Param != tc.wantParam || fe.Code != tc.code):
				t.Fatalf("CheckKeys(%s) = %#v, want param %q code %q", tc.body, err, tc.wantParam, tc.code)
			case tc.wantParam != "" && !strings.Contains(fe.Msg, "'"+tc.wantParam+"'"):
				t.Fatalf("message %q does not name %s", fe.Msg, tc.wantParam)
			}
		})
	}
}

// BenchmarkCheckKeys: the key check on a small request and on one with a
// 100 KB prompt (the scan skips strings with bytes.IndexByte).
func BenchmarkCheckKeys(b *testing.B) {
	for _, bc := range []struct{ name, prompt string }{
		{"small", "Summarise the attached meeting notes in three bullet points."},
		{"100KB", strings.Repeat("Summarise the attached meeting notes. ", 2700)},
	} {
		body := []byte(`{"model":"gpt-4o-mini","max_tokens":64,"temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"` + bc.prompt + `"}]}`)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := CheckKeys(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzCheckKeys: whenever CheckKeys lets a valid body pass, Go's decoder
// (case-insensitive, last duplicate wins) and a reader that matches keys
// exactly and keeps the first duplicate read the same model, caps and
// stream flag, and the same message roles and contents.
func FuzzCheckKeys(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
		`{"max_tokens":5000,"MAX_TOKENS":5}`,
		`{"max_tokens":5,"max\u005ftokens":5000}`,
		`{"ſtream":true,"stream":false}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a","Text":"b"}]}]}`,
		` { "model" : "a" , "x" : [ { "model" : 1 } ] , "stream_options" : { "include_usage" : true } } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var goReq Request
		if json.Unmarshal(body, &goReq) != nil || CheckKeys(body) != nil {
			return
		}
		exact := firstExact(body)
		want := Request{}
		_ = json.Unmarshal(exact["model"], &want.Model)
		_ = json.Unmarshal(exact["max_tokens"], &want.MaxTokens)
		_ = json.Unmarshal(exact["max_completion_tokens"], &want.MaxCompletionTokens)
		_ = json.Unmarshal(exact["stream"], &want.Stream)
		a, _ := json.Marshal([]any{goReq.Model, goReq.MaxTokens, goReq.MaxCompletionTokens, goReq.Stream, len(goReq.Messages)})
		var msgs []json.RawMessage
		_ = json.Unmarshal(exact["messages"], &msgs)
		b, _ := json.Marshal([]any{want.Model, want.MaxTokens, want.MaxCompletionTokens, want.Stream, len(msgs)})
		if string(a) != string(b) {
			t.Fatalf("body %s passed, but Go reads %s and an exact reader %s", body, a, b)
		}
		for i, raw := range msgs {
			m := firstExact(raw)
			var role string
			_ = json.Unmarshal(m["role"], &role)
			if role != goReq.Messages[i].Role || string(bytes.TrimSpace(m["content"])) != string(bytes.TrimSpace(goReq.Messages[i].Content)) {
				t.Fatalf("body %s passed, but message %d reads differently", body, i)
			}
		}
	})
}

// firstExact decodes a JSON object's members as a reader that matches keys
// exactly and keeps the first duplicate (nil if raw is not an object).
func firstExact(raw []byte) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out
		}
		if _, seen := out[tok.(string)]; !seen {
			out[tok.(string)] = v
		}
	}
	return out
}
