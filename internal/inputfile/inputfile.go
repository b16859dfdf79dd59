// Package inputfile reads the files a user points aiload at (scenarios,
// gateway configs, pricing files, length CSVs) with two guards: only
// regular files are read (a device such as /dev/zero, a pipe or a directory
// is refused before it is opened), and no more than a size limit is read.
// TooDeep refuses YAML nested too deeply for the parser, before parsing.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Limits of YAML configuration files (scenarios, gateway configs, pricing).
const (
	// MaxConfigBytes bounds a configuration file.
	MaxConfigBytes = 1 << 20
	// MaxDepth bounds the nesting of a configuration file's collections.
	MaxDepth = 64
)

// ErrNotRegular is returned for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// TooLargeError is returned for a file larger than the limit.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("larger than the limit of %s", Size(e.Limit))
}

// Open opens path for reading if it is a regular file (symbolic links are
// followed) of at most limit bytes; the reader stops at limit + 1 bytes
// and then fails with a *TooLargeError, in case the file grew meanwhile.
// Its own errors are *os.PathError wrapping ErrNotRegular or a
// *TooLargeError.
func Open(path string, limit int64) (io.ReadCloser, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kind(fi.Mode()))}
	}
	if fi.Size() > limit {
		return nil, &os.PathError{Op: "read", Path: path, Err: &TooLargeError{limit}}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, &os.PathError{Op: "read", Path: path, Err: ErrNotRegular}
	}
	return &limited{f: f, r: io.LimitReader(f, limit+1), left: limit + 1, limit: limit, path: path}, nil
}

// Read returns the content of path, under the same guards as Open.
func Read(path string, limit int64) ([]byte, error) {
	rc, err := Open(path, limit)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

type limited struct {
	f     *os.File
	r     io.Reader
	left  int64
	limit int64
	path  string
}

func (l *limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left <= 0 {
		return n, &os.PathError{Op: "read", Path: l.path, Err: &TooLargeError{l.limit}}
	}
	return n, err
}

func (l *limited) Close() error { return l.f.Close() }

// kind names a non-regular file mode.
func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0, m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// Size writes n bytes as KiB or MiB when it is a whole number of them.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ReadConfig reads a YAML configuration file under the guards of Read and
// MaxConfigBytes, and refuses nesting deeper than MaxDepth with the line
// and column where it starts (*DepthError).
func ReadConfig(path string) ([]byte, error) {
	src, err := Read(path, MaxConfigBytes)
	if err != nil {
		return nil, err
	}
	if line, col, deep := TooDeep(src, MaxDepth); deep {
		return nil, &DepthError{File: path, Line: line, Column: col, Max: MaxDepth}
	}
	return src, nil
}

// DepthError is YAML nested deeper than Max, first at Line and Column.
type DepthError struct {
	File         string
	Line, Column int
	Max          int
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("%s:%d:%d: nested more than %d levels deep", e.File, e.Line, e.Column, e.Max)
}
