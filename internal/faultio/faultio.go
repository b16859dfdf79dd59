// Package faultio provides an io.Writer that fails on demand, for tests of
// what aiload does when its logs cannot be written (a full disk, a broken
// pipe).
package faultio

import (
	"bytes"
	"sync"
	"syscall"
)

// Writer keeps what is written in memory, like a file on a disk of limited
// space. While full it accepts bytes up to the space left and then fails
// with ENOSPC, cutting a write short as a real file system does. The zero
// value has no space left until Free; New has unlimited space.
type Writer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int // bytes the "disk" holds in all; < 0: unlimited
	fails int
}

// New returns a Writer with unlimited space.
func New() *Writer { return &Writer{limit: -1} }

// Fill limits the space so that at most n more bytes are accepted.
func (w *Writer) Fill(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.limit = w.buf.Len() + n
}

// Free lifts the limit: writes succeed again.
func (w *Writer) Free() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.limit = -1
}

// Write appends p up to the space left; it returns ENOSPC when p does not
// fit whole.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.limit < 0 {
		return w.buf.Write(p)
	}
	n := min(len(p), max(0, w.limit-w.buf.Len()))
	w.buf.Write(p[:n])
	if n < len(p) {
		w.fails++
		return n, syscall.ENOSPC
	}
	return n, nil
}

// Failures returns how many writes failed.
func (w *Writer) Failures() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fails
}

// Bytes returns a copy of what was written.
func (w *Writer) Bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes())
}
