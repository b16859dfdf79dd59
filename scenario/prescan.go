package scenario

import (
	"fmt"

	"github.com/aiload/aiload/internal/inputfile"
)

// Input limits, checked before the YAML parser sees a byte: the parser's
// time grows with the square of the nesting depth (16,000 nested brackets
// under an x- key took seconds and hundreds of megabytes) and with the
// number of tokens.
const (
	// MaxFileBytes bounds a scenario file and an included gateway file.
	MaxFileBytes = inputfile.MaxConfigBytes
	// MaxDepth bounds the nesting of collections (block and flow).
	MaxDepth = inputfile.MaxDepth
)

// checkInput refuses src larger than MaxFileBytes or nested deeper than
// MaxDepth, before it is parsed.
func checkInput(file string, src []byte) *Error {
	if len(src) > MaxFileBytes {
		return &Error{File: file, Msg: fmt.Sprintf("file of %d bytes is larger than the limit of %d MiB", len(src), MaxFileBytes>>20)}
	}
	if line, col, deep := inputfile.TooDeep(src, MaxDepth); deep {
		return &Error{File: file, Line: line, Column: col, Msg: fmt.Sprintf("nested more than %d levels deep", MaxDepth)}
	}
	return nil
}
