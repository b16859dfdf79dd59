package chat

import "strings"

// Filler is synthetic text: its words repeated in order, one space apart.
// Load generators send it as prompts and mock backends answer with it; each
// word is one token under the o200k and cl100k encodings.
type Filler []string

// Text returns n words of f (about n tokens).
func (f Filler) Text(n int64) string {
	var b strings.Builder
	b.Grow(f.Len(n))
	for i := int64(0); i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f[i%int64(len(f))])
	}
	return b.String()
}

// Len is len(f.Text(n)), without building the text.
func (f Filler) Len(n int64) int {
	if n <= 0 {
		return 0
	}
	cycle, part := 0, 0
	for i, w := range f {
		cycle += len(w) + 1
		if int64(i) < n%int64(len(f)) {
			part += len(w) + 1
		}
	}
	return int(n/int64(len(f)))*cycle + part - 1
}
