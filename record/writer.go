package record

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Sink accepts token-metric records. Implementations must be safe for
// concurrent use.
type Sink interface {
	Write(r *Record) error
}

// SinkFunc adapts a function to the Sink interface.
type SinkFunc func(r *Record) error

// Write calls f(r).
func (f SinkFunc) Write(r *Record) error { return f(r) }

var (
	_ Sink = SinkFunc(nil)
	_ Sink = (*Writer)(nil)
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("record writer closed")

// DefaultFlushInterval is how often a Writer flushes its buffer when no
// interval is given: at most this much accepted data is lost on kill -9.
const DefaultFlushInterval = 200 * time.Millisecond

// Writer is a buffered JSONL sink. Records are encoded one per line and
// flushed at least every flush interval, on Flush, and on Close.
type Writer struct {
	mu      sync.Mutex
	f       *os.File // nil when writing to a plain io.Writer
	w       *bufio.Writer
	n       int64
	closed  bool
	err     error
	stop    chan struct{}
	stopped chan struct{}
	bufs    sync.Pool // of *[]byte: lines are encoded outside the lock
}

// Create creates (or truncates) the JSONL file at path and returns a Writer
// that flushes every flushEvery (DefaultFlushInterval when 0).
func Create(path string, flushEvery time.Duration) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create record log: %w", err)
	}
	w := NewWriter(f, flushEvery)
	w.f = f
	return w, nil
}

// NewWriter returns a Writer over w that flushes every flushEvery
// (DefaultFlushInterval when 0). Close does not close w.
func NewWriter(w io.Writer, flushEvery time.Duration) *Writer {
	if flushEvery <= 0 {
		flushEvery = DefaultFlushInterval
	}
	rw := &Writer{
		bufs:    sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }},
		w:       bufio.NewWriterSize(w, 256<<10),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go rw.flushLoop(flushEvery)
	return rw
}

func (w *Writer) flushLoop(every time.Duration) {
	defer close(w.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			_ = w.Flush()
		}
	}
}

// Write encodes r as one JSON line. It sets r.Schema when it is zero.
func (w *Writer) Write(r *Record) error {
	if r.Schema == 0 {
		r.Schema = SchemaVersion
	}
	buf := w.bufs.Get().(*[]byte)
	defer w.bufs.Put(buf)
	line, err := r.AppendJSON((*buf)[:0])
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	line = append(line, '\n')
	*buf = line
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if _, err := w.w.Write(line); err != nil {
		w.err = fmt.Errorf("write record: %w", err)
		return w.err
	}
	w.n++
	return nil
}

// Count returns how many records were accepted.
func (w *Writer) Count() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Flush writes buffered records to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("flush record log: %w", err)
	}
	return w.err
}

// Close flushes, syncs and closes the file (when the Writer owns one).
// Writes after Close return ErrClosed. Close is idempotent.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.err
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.stopped

	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.flushLocked()
	if w.f != nil {
		if serr := w.f.Sync(); serr != nil && err == nil {
			err = fmt.Errorf("sync record log: %w", serr)
		}
		if cerr := w.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close record log: %w", cerr)
		}
	}
	return err
}
