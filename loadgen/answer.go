package loadgen

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// chatAnswer reads a chat completion answer's usage and its first choice's
// message content as json.Unmarshal into parseAnswer's struct does, in one
// pass without reflection: at 2,000 answers a second encoding/json's two
// passes (validation, then decoding) were the largest part of the load
// generator's own CPU. ok is false when the text holds anything this reader
// does not take exactly as encoding/json would (invalid JSON, a field of
// another type, a duplicate or differently cased key, a number that is not
// an int64, nesting deeper than maxAnswerDepth); parseAnswer then decodes
// it with encoding/json.
func chatAnswer(data []byte) (u usage, content string, ok bool) {
	r := answerReader{b: data}
	var seenChoices, seenUsage bool
	ok = r.object(func(key []byte) bool {
		switch {
		case string(key) == "choices" && !seenChoices:
			seenChoices = true
			return r.choices(&content)
		case string(key) == "usage" && !seenUsage:
			seenUsage = true
			return r.usage(&u)
		case bytes.EqualFold(key, []byte("choices")) || bytes.EqualFold(key, []byte("usage")):
			return false
		}
		return r.skip(1)
	}, 0)
	return u, content, ok && r.end()
}

// maxAnswerDepth bounds the nesting chatAnswer follows (encoding/json's own
// limit is 10,000).
const maxAnswerDepth = 1000

// answerReader walks JSON text; each method returns false on anything it
// does not read (see chatAnswer).
type answerReader struct {
	b []byte
	i int
}

func (r *answerReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// end reports whether only white space is left.
func (r *answerReader) end() bool {
	r.ws()
	return r.i == len(r.b)
}

// peek returns the next byte after white space (0 at the end).
func (r *answerReader) peek() byte {
	r.ws()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// object reads an object, calling member for each key with the reader at
// its value; a key must be ASCII without escapes (encoding/json folds
// some non-ASCII letters to ASCII ones when it matches keys).
func (r *answerReader) object(member func(key []byte) bool, depth int) bool {
	if depth > maxAnswerDepth || r.peek() != '{' {
		return false
	}
	r.i++
	if r.peek() == '}' {
		r.i++
		return true
	}
	for {
		key, plain, ok := r.str()
		if !ok || !plain || r.peek() != ':' {
			return false
		}
		r.i++
		if !member(key) {
			return false
		}
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array, calling elem for each element.
func (r *answerReader) array(elem func(i int) bool, depth int) bool {
	if depth > maxAnswerDepth || r.peek() != '[' {
		return false
	}
	r.i++
	if r.peek() == ']' {
		r.i++
		return true
	}
	for n := 0; ; n++ {
		if !elem(n) {
			return false
		}
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string and returns its bytes between the quotes; plain is
// false when they hold an escape or a non-ASCII byte (decode them with
// text).
func (r *answerReader) str() (raw []byte, plain, ok bool) {
	if r.peek() != '"' {
		return nil, false, false
	}
	start := r.i + 1
	plain = true
	for i := start; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			r.i = i + 1
			return r.b[start:i], plain, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			plain = false
			if i+1 >= len(r.b) {
				return nil, false, false
			}
			i++
			switch r.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(r.b) || !isHex4(r.b[i+1:i+5]) {
					return nil, false, false
				}
				i += 4
			default:
				return nil, false, false
			}
		case c >= 0x80:
			plain = false
		}
	}
	return nil, false, false
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// text reads a string value as encoding/json decodes it into a string:
// escapes resolved, invalid UTF-8 and lone surrogates as U+FFFD.
func (r *answerReader) text() (string, bool) {
	start := r.i
	raw, plain, ok := r.str()
	if !ok {
		return "", false
	}
	if plain {
		return string(raw), true
	}
	var s string
	if json.Unmarshal(r.b[start:r.i], &s) != nil {
		return "", false
	}
	return s, true
}

// null reads a null if one is next.
func (r *answerReader) null() bool {
	if r.peek() == 'n' && bytes.HasPrefix(r.b[r.i:], []byte("null")) {
		r.i += 4
		return true
	}
	return false
}

// int64 reads an integer that fits an int64 (no fraction or exponent).
func (r *answerReader) int64() (int64, bool) {
	r.ws()
	start := r.i
	if !r.number() {
		return 0, false
	}
	n, err := strconv.ParseInt(string(r.b[start:r.i]), 10, 64)
	return n, err == nil
}

// number reads a number as JSON's grammar has it.
func (r *answerReader) number() bool {
	b, i := r.b, r.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	r.i = i
	return true
}

// skip reads any value.
func (r *answerReader) skip(depth int) bool {
	switch c := r.peek(); {
	case c == '{':
		return r.object(func([]byte) bool { return r.skip(depth + 1) }, depth)
	case c == '[':
		return r.array(func(int) bool { return r.skip(depth + 1) }, depth)
	case c == '"':
		_, _, ok := r.str()
		return ok
	case c == '-' || '0' <= c && c <= '9':
		return r.number()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(r.b[r.i:], []byte(lit)) {
			r.i += len(lit)
			return true
		}
	}
	return false
}

// usage reads the usage object (or null) into u.
func (r *answerReader) usage(u *usage) bool {
	if r.null() {
		return true
	}
	var seenPrompt, seenCompletion bool
	field := func(seen *bool, v *int64) bool {
		if *seen {
			return false
		}
		*seen = true
		if r.null() {
			return true
		}
		n, ok := r.int64()
		*v = n
		return ok
	}
	return r.object(func(key []byte) bool {
		switch {
		case string(key) == "prompt_tokens":
			return field(&seenPrompt, &u.PromptTokens)
		case string(key) == "completion_tokens":
			return field(&seenCompletion, &u.CompletionTokens)
		case bytes.EqualFold(key, []byte("prompt_tokens")) || bytes.EqualFold(key, []byte("completion_tokens")):
			return false
		}
		return r.skip(2)
	}, 1)
}

// choices reads the choices array (or null), the first one's message
// content into content.
func (r *answerReader) choices(content *string) bool {
	if r.null() {
		return true
	}
	return r.array(func(n int) bool {
		var seen bool
		return r.object(func(key []byte) bool {
			switch {
			case string(key) == "message" && !seen:
				seen = true
				var c string
				ok := r.message(&c)
				if n == 0 {
					*content = c
				}
				return ok
			case bytes.EqualFold(key, []byte("message")):
				return false
			}
			return r.skip(3)
		}, 2)
	}, 1)
}

// message reads a message object (or null): its role and content must be
// strings (or null), as message's fields are.
func (r *answerReader) message(content *string) bool {
	if r.null() {
		return true
	}
	var seenRole, seenContent bool
	return r.object(func(key []byte) bool {
		switch {
		case string(key) == "content" && !seenContent:
			seenContent = true
			if r.null() {
				return true
			}
			s, ok := r.text()
			*content = s
			return ok
		case string(key) == "role" && !seenRole:
			seenRole = true
			if r.null() {
				return true
			}
			_, ok := r.text()
			return ok
		case bytes.EqualFold(key, []byte("content")) || bytes.EqualFold(key, []byte("role")):
			return false
		}
		return r.skip(4)
	}, 3)
}
