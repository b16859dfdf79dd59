package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The objects whose fields the gateway reads, and those fields. Go's JSON
// decoder matches keys without regard to case and lets the last of
// duplicate keys win; a backend may read keys exactly, or keep the first.
// CheckKeys makes sure both read the same request.
type objKind int

const (
	kindRequest objKind = iota
	kindMessage
	kindPart // a content part
	kindStreamOptions
	kindResponses   // a Responses API request
	kindCompletions // a legacy completions request
)

var kindFields = [...][]string{
	kindRequest:       {"model", "messages", "max_tokens", "max_completion_tokens", "stream", "stream_options", "user"},
	kindMessage:       {"role", "content", "name"},
	kindPart:          {"type", "text"},
	kindStreamOptions: {"include_usage"},
	kindResponses:     {"model", "input", "instructions", "max_output_tokens", "stream", "user"},
	kindCompletions:   {"model", "prompt", "max_tokens", "stream", "stream_options", "user"},
}

// CheckKeys checks that a chat request body, already known to be valid
// JSON, means one thing to every reader: in the objects whose fields the
// gateway reads (the request, each message, each content part,
// stream_options), a key that matches one of those fields without regard
// to case must be spelled exactly ("MAX_TOKENS" is refused, not read as
// max_tokens), and must appear once. Otherwise the gateway could reserve
// tokens for one max_tokens and a backend serve another. Other keys are
// the backend's business and pass as they are. The error is a *FieldError
// naming the key (param) as sent.
func CheckKeys(body []byte) error { return checkKeys(body, kindRequest) }

// CheckKeysOf is CheckKeys for a request of operation op: the fields of a
// Responses API request (its input items as messages) or of a legacy
// completions request.
func CheckKeysOf(op string, body []byte) error {
	switch op {
	case OpResponses:
		return checkKeys(body, kindResponses)
	case OpCompletions:
		return checkKeys(body, kindCompletions)
	case OpChat, "":
		return CheckKeys(body)
	}
	return nil
}

func checkKeys(body []byte, kind objKind) error {
	s := keyScanner{b: body}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil
	}
	ke := s.object(kind)
	if ke == nil {
		return nil
	}
	if ke.dup {
		return &FieldError{Param: ke.param, Code: "duplicate_parameter",
			Msg: fmt.Sprintf("Duplicate parameter: '%s' appears more than once.", ke.param)}
	}
	return &FieldError{Param: ke.param, Code: "unknown_parameter",
		Msg: fmt.Sprintf("Unknown parameter: '%s'. Parameter names are case-sensitive: did you mean '%s'?", ke.param, ke.want)}
}

// keyError is a key CheckKeys refuses; param grows its path while the scan
// unwinds, so a request that passes builds no path at all.
type keyError struct {
	param, want string
	dup         bool
}

// under prefixes the error's paths with p: "messages" + "[1].content".
func (e *keyError) under(p string) *keyError {
	e.param, e.want = prefix(p, e.param), prefix(p, e.want)
	return e
}

func prefix(p, path string) string {
	if strings.HasPrefix(path, "[") {
		return p + path
	}
	return p + "." + path
}

// keyScanner walks a valid JSON document.
type keyScanner struct {
	b []byte
	i int
}

// object checks the keys of the object of kind k at s.i.
func (s *keyScanner) object(k objKind) *keyError {
	fields := kindFields[k]
	var seen uint64 // bit i: fields[i] was seen
	s.i++           // {
	for {
		s.space()
		if s.i >= len(s.b) {
			return nil
		}
		switch s.b[s.i] {
		case '}':
			s.i++
			return nil
		case ',':
			s.i++
			s.space()
		}
		raw := s.key()
		s.space()
		s.i++ // :
		s.space()
		f := fold(fields, raw)
		if f < 0 {
			s.skip()
			continue
		}
		if string(raw) != fields[f] {
			return &keyError{param: string(raw), want: fields[f]}
		}
		if seen&(1<<f) != 0 {
			return &keyError{param: fields[f], dup: true}
		}
		seen |= 1 << f
		if ke := s.value(k, fields[f]); ke != nil {
			return ke.under(fields[f])
		}
	}
}

// value consumes the value of field in an object of kind k, checking the
// objects within it that the gateway reads.
func (s *keyScanner) value(k objKind, field string) *keyError {
	switch {
	case k == kindRequest && field == "messages":
		return s.elements(kindMessage)
	case (k == kindRequest || k == kindCompletions) && field == "stream_options":
		return s.objectOrSkip(kindStreamOptions)
	case k == kindResponses && field == "input":
		return s.elements(kindMessage)
	case k == kindMessage && field == "content":
		return s.elements(kindPart)
	}
	s.skip()
	return nil
}

// objectOrSkip is object when the value at s.i is an object, else skip.
func (s *keyScanner) objectOrSkip(k objKind) *keyError {
	if s.b[s.i] != '{' {
		s.skip()
		return nil
	}
	return s.object(k)
}

// elements checks each object element of the array at s.i as kind k; any
// other value is skipped.
func (s *keyScanner) elements(k objKind) *keyError {
	if s.b[s.i] != '[' {
		s.skip()
		return nil
	}
	s.i++
	for n := 0; ; n++ {
		s.space()
		if s.i >= len(s.b) {
			return nil
		}
		switch s.b[s.i] {
		case ']':
			s.i++
			return nil
		case ',':
			s.i++
			s.space()
		}
		if ke := s.objectOrSkip(k); ke != nil {
			return ke.under("[" + strconv.Itoa(n) + "]")
		}
	}
}

// key reads the string at s.i, unescaped (without copying it when it has
// no escapes).
func (s *keyScanner) key() []byte {
	start := s.i
	s.str()
	raw := s.b[start:s.i]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	var k string
	_ = json.Unmarshal(raw, &k) // valid JSON: cannot fail
	return []byte(k)
}

// str moves past the string at s.i.
func (s *keyScanner) str() {
	s.i++ // opening quote
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 { // not valid JSON; stop
			s.i = len(s.b)
			return
		}
		end := s.i + j
		k := end
		for k > s.i && s.b[k-1] == '\\' {
			k--
		}
		s.i = end + 1
		if (end-k)%2 == 0 { // an even run of backslashes: the quote is not escaped
			return
		}
	}
}

// skip moves past the value at s.i.
func (s *keyScanner) skip() {
	switch s.b[s.i] {
	case '"':
		s.str()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				s.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				return
			}
		}
	default: // a number, true, false or null
		for s.i < len(s.b) && !strings.ContainsRune(",}] \t\r\n", rune(s.b[s.i])) {
			s.i++
		}
	}
}

func (s *keyScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// fold is the index of the field key matches as Go's decoder does (exactly
// or without regard to case), or -1.
func fold(fields []string, key []byte) int {
	for i, f := range fields {
		if len(f) == len(key) && string(key) == f {
			return i
		}
	}
	for i, f := range fields {
		if bytes.EqualFold([]byte(f), key) {
			return i
		}
	}
	return -1
}
