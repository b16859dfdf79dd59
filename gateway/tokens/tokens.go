// Package tokens counts prompt tokens of chat requests with a real BPE
// tokenizer (o200k_base or cl100k_base, embedded, so it works offline).
//
// Model to encoding: names starting with gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1,
// o3 or o4 use o200k_base; other gpt-4*, gpt-3.5* and gpt-35* names and
// text-embedding-* use cl100k_base. Unknown models fall back to o200k_base,
// the encoding of current OpenAI models.
package tokens

import (
	"fmt"
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"

	"github.com/aiload/aiload/gateway/chat"
)

// Per-message overheads of the chat format, as in OpenAI's cookbook
// counting recipe: every message costs 3 tokens beyond its text, a name 1
// more, and every reply is primed with 3.
const (
	tokensPerMessage = 3
	tokensPerName    = 1
	replyPriming     = 3
)

// memoBytes bounds the text a Counter remembers counts for; when full, the
// memo starts over. Load tests send the same texts (system prompts,
// conversation history, generated filler) again and again, and a BPE pass
// costs far more than a map lookup.
const memoBytes = 32 << 20

// memoMin is the shortest text whose count is remembered.
const memoMin = 32

type memoKey struct {
	enc  tokenizer.Encoding
	text string
}

// Counter counts tokens. The zero value is not usable; call NewCounter.
// A Counter is safe for concurrent use; encodings load on first use.
type Counter struct {
	mu     sync.RWMutex
	codecs map[tokenizer.Encoding]tokenizer.Codec

	memoMu    sync.RWMutex
	memo      map[memoKey]int64
	memoBytes int
}

// NewCounter returns a Counter.
func NewCounter() *Counter {
	return &Counter{codecs: map[tokenizer.Encoding]tokenizer.Codec{}, memo: map[memoKey]int64{}}
}

// EncodingFor returns the encoding used for model (see package doc).
func EncodingFor(model string) tokenizer.Encoding {
	m := strings.ToLower(model)
	for _, p := range []string{"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4"} {
		if strings.HasPrefix(m, p) {
			return tokenizer.O200kBase
		}
	}
	for _, p := range []string{"gpt-4", "gpt-3.5", "gpt-35", "text-embedding"} {
		if strings.HasPrefix(m, p) {
			return tokenizer.Cl100kBase
		}
	}
	return tokenizer.O200kBase
}

func (c *Counter) codec(enc tokenizer.Encoding) (tokenizer.Codec, error) {
	c.mu.RLock()
	cd, ok := c.codecs[enc]
	c.mu.RUnlock()
	if ok {
		return cd, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cd, ok := c.codecs[enc]; ok {
		return cd, nil
	}
	cd, err := tokenizer.Get(enc)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", enc, err)
	}
	c.codecs[enc] = cd
	return cd, nil
}

// Warm loads both encodings now, so the first requests do not wait for it.
func (c *Counter) Warm() {
	for _, enc := range []tokenizer.Encoding{tokenizer.O200kBase, tokenizer.Cl100kBase} {
		_, _ = c.codec(enc)
	}
}

// Text counts the tokens of s under model's encoding. Long texts are
// counted in pieces cut where a pre-token must begin (see cut), so the
// pieces of texts sent again and again (conversation history, filler) are
// remembered; the sum equals the count of the whole.
func (c *Counter) Text(model, s string) (int64, error) {
	enc := EncodingFor(model)
	total := int64(0)
	for len(s) > 0 {
		i := cut(s, chunkBytes)
		n, err := c.piece(enc, s[:i])
		if err != nil {
			return 0, err
		}
		total += n
		s = s[i:]
	}
	return total, nil
}

// chunkBytes is about how long the pieces of a long text are.
const chunkBytes = 512

// cut returns where the first piece of s ends: at the first position at or
// after n where a space follows a non-space and precedes an ASCII letter
// (every pre-token pattern of cl100k and o200k ends before such a space:
// only whitespace runs and a one-character prefix of a word can contain a
// space, and both start there), or len(s).
func cut(s string, n int) int {
	for i := n; i+1 < len(s); i++ {
		if s[i] == ' ' && !isSpace(s[i-1]) && isLetter(s[i+1]) {
			return i
		}
	}
	return len(s)
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f' || b >= 0x80
}
func isLetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

// isRole reports whether s is a message role of the chat API: short, but
// counted in every message, so remembered too.
func isRole(s string) bool {
	switch s {
	case "system", "user", "assistant", "developer", "tool", "function":
		return true
	}
	return false
}

// piece counts one piece, remembering the counts of long ones.
func (c *Counter) piece(enc tokenizer.Encoding, s string) (int64, error) {
	memo := len(s) >= memoMin || isRole(s)
	if memo {
		c.memoMu.RLock()
		n, ok := c.memo[memoKey{enc, s}]
		c.memoMu.RUnlock()
		if ok {
			return n, nil
		}
	}
	cd, err := c.codec(enc)
	if err != nil {
		return 0, err
	}
	n, err := cd.Count(s)
	if err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	if memo && len(s) <= memoBytes/4 {
		c.remember(memoKey{enc, strings.Clone(s)}, int64(n))
	}
	return int64(n), nil
}

func (c *Counter) remember(k memoKey, n int64) {
	c.memoMu.Lock()
	defer c.memoMu.Unlock()
	if c.memoBytes+len(k.text) > memoBytes {
		clear(c.memo)
		c.memoBytes = 0
	}
	if _, ok := c.memo[k]; !ok {
		c.memo[k] = n
		c.memoBytes += len(k.text)
	}
}

// Prompt counts the prompt tokens of a chat request the way the backend
// bills them: message texts plus the chat format's overheads.
func (c *Counter) Prompt(model string, msgs []chat.Message) (int64, error) {
	return c.prompt(model, len(msgs), func(i int) (string, string, string, int64) {
		return msgs[i].Role, msgs[i].Name, msgs[i].Text(), -1
	})
}

// Messages is Prompt for the messages of an in-process request: a
// message's text is counted only when its Tokens are not known (< 0).
func (c *Counter) Messages(model string, msgs []chat.Msg) (int64, error) {
	return c.prompt(model, len(msgs), func(i int) (string, string, string, int64) {
		return msgs[i].Role, msgs[i].Name, msgs[i].Text, msgs[i].Tokens
	})
}

// prompt sums n messages, each given by msg as its role, name, text and
// the text's token count when known (else < 0).
func (c *Counter) prompt(model string, n int, msg func(i int) (role, name, text string, known int64)) (int64, error) {
	total := int64(replyPriming)
	for i := range n {
		role, name, text, known := msg(i)
		nr, err := c.Text(model, role)
		if err != nil {
			return 0, err
		}
		if known < 0 {
			if known, err = c.Text(model, text); err != nil {
				return 0, err
			}
		}
		total += tokensPerMessage + nr + known
		if name != "" {
			nn, err := c.Text(model, name)
			if err != nil {
				return 0, err
			}
			total += nn + tokensPerName
		}
	}
	return total, nil
}
