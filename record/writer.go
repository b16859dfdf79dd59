package record

import (
	"bytes"
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

// ErrDropped is wrapped by the error Write returns when a record is lost:
// the log cannot be written and the pending buffer is full.
var ErrDropped = errors.New("record dropped")

// DefaultFlushInterval is how often a Writer flushes its buffer when no
// interval is given: at most this much accepted data is lost on kill -9.
// While the log cannot be written it is also how often writing is retried.
const DefaultFlushInterval = 200 * time.Millisecond

// DefaultMaxPending is how many bytes of encoded records a Writer keeps
// while its log cannot be written (about 20,000 records of 400 bytes):
// records beyond it are dropped and counted.
const DefaultMaxPending = 8 << 20

// flushSize is how much a healthy Writer buffers before it writes without
// waiting for the flush interval.
const flushSize = 256 << 10

// Writer is a buffered JSONL sink. Records are encoded one per line and
// written at least every flush interval, on Flush, and on Close.
//
// A write error does not stop it: the records not yet written stay in a
// bounded buffer (see MaxPending), writing is retried every flush interval
// and resumes where it stopped, so a line cut by a full disk is completed
// once space is freed. While the log cannot be written, Err returns the
// error; a record that does not fit in the buffer is dropped, counted
// (Dropped) and Write returns an error wrapping ErrDropped.
type Writer struct {
	mu         sync.Mutex
	out        io.Writer
	f          *os.File // nil when writing to a plain io.Writer
	buf        []byte   // encoded lines not yet written
	lead       int      // 1 while buf starts with the newline that ends a torn last line (see Append)
	maxPending int
	onError    func(error)
	notifyMu   sync.Mutex // orders OnError calls
	notified   error      // the error OnError was last called with
	n, dropped int64
	closed     bool
	err        error // the latest write error; nil once writing works again
	stop       chan struct{}
	stopped    chan struct{}
	bufs       sync.Pool // of *[]byte: lines are encoded outside the lock
}

// Option configures a Writer.
type Option func(*Writer)

// OnError is called with the write error when the log stops accepting
// writes, and with nil when a retry succeeds and the pending records are
// written. It is called without the Writer's lock held, never concurrently
// with itself, and must not block for long.
func OnError(fn func(err error)) Option { return func(w *Writer) { w.onError = fn } }

// MaxPending caps the bytes of records kept while the log cannot be written
// (DefaultMaxPending when n <= 0).
func MaxPending(n int) Option {
	return func(w *Writer) {
		if n > 0 {
			w.maxPending = n
		}
	}
}

// Create creates (or truncates) the JSONL file at path and returns a Writer
// that flushes every flushEvery (DefaultFlushInterval when 0).
func Create(path string, flushEvery time.Duration, opts ...Option) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create record log: %w", err)
	}
	w := NewWriter(f, flushEvery, opts...)
	w.f = f
	return w, nil
}

// Append opens (or creates) the JSONL file at path for appending and returns
// a Writer that flushes every flushEvery (DefaultFlushInterval when 0). When
// the file ends in a torn line (its last byte is not a newline, e.g. after a
// full disk or a crash), the first record starts on a new line, so the torn
// line stays the only bad one.
func Append(path string, flushEvery time.Duration, opts ...Option) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open record log: %w", err)
	}
	torn, err := endsTorn(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	w := NewWriter(f, flushEvery, opts...)
	w.f = f
	if torn {
		w.mu.Lock()
		w.buf, w.lead = append(w.buf, '\n'), 1
		w.mu.Unlock()
	}
	return w, nil
}

// endsTorn reports whether the regular file f (opened at path) is not empty
// and does not end in a newline.
func endsTorn(path string, f *os.File) (bool, error) {
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("open record log: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() == 0 {
		return false, nil
	}
	r, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("open record log: %w", err)
	}
	defer r.Close()
	last := make([]byte, 1)
	if _, err := r.ReadAt(last, st.Size()-1); err != nil {
		return false, fmt.Errorf("read record log's end: %w", err)
	}
	return last[0] != '\n', nil
}

// NewWriter returns a Writer over w that flushes every flushEvery
// (DefaultFlushInterval when 0). Close does not close w.
func NewWriter(w io.Writer, flushEvery time.Duration, opts ...Option) *Writer {
	if flushEvery <= 0 {
		flushEvery = DefaultFlushInterval
	}
	rw := &Writer{
		bufs:       sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }},
		out:        w,
		maxPending: DefaultMaxPending,
		stop:       make(chan struct{}),
		stopped:    make(chan struct{}),
	}
	for _, o := range opts {
		o(rw)
	}
	rw.buf = make([]byte, 0, min(flushSize, rw.maxPending)+1024)
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

// Write encodes r as one JSON line. It sets r.Schema when it is zero. It
// returns nil once the record is accepted, written or waiting in the buffer
// for the log to accept writes again; an error wrapping ErrDropped when the
// record was dropped; ErrClosed after Close.
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
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if w.err != nil && len(w.buf)+len(line) > w.maxPending {
		w.dropped++
		cause := w.err
		w.mu.Unlock()
		return fmt.Errorf("%w: %d bytes of records wait for the log: %w", ErrDropped, w.maxPending, cause)
	}
	w.buf = append(w.buf, line...)
	w.n++
	changed := w.err == nil && len(w.buf) >= flushSize && w.flushLocked()
	w.mu.Unlock()
	if changed {
		w.notify()
	}
	return nil
}

// Count returns how many records were accepted (written or waiting).
func (w *Writer) Count() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Dropped returns how many records were lost: refused by Write while the
// pending buffer was full, or still unwritten at Close.
func (w *Writer) Dropped() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// Err returns the error that keeps records from being written, or nil
// while the log accepts writes.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Flush writes the buffered records to the underlying writer and returns
// the error that keeps them from it, if any.
func (w *Writer) Flush() error {
	w.mu.Lock()
	changed := w.flushLocked()
	err := w.err
	w.mu.Unlock()
	if changed {
		w.notify()
	}
	return err
}

// flushLocked writes what is buffered. It reports whether the Writer went
// from healthy to failing or back (call notify once the lock is released).
func (w *Writer) flushLocked() bool {
	if len(w.buf) == 0 {
		return false
	}
	n, err := w.out.Write(w.buf)
	if n > 0 {
		w.lead = 0
	}
	w.buf = w.buf[:copy(w.buf, w.buf[n:])]
	if len(w.buf) == 0 && cap(w.buf) > 4*flushSize {
		w.buf = make([]byte, 0, flushSize+1024) // give back what an outage made it hold
	}
	was := w.err
	if err != nil {
		w.err = fmt.Errorf("write record log: %w", err)
	} else {
		w.err = nil
	}
	return (was == nil) != (w.err == nil)
}

// notify calls OnError when the state differs from what it was last told,
// in order and once per change.
func (w *Writer) notify() {
	if w.onError == nil {
		return
	}
	w.notifyMu.Lock()
	defer w.notifyMu.Unlock()
	err := w.Err()
	if (err == nil) == (w.notified == nil) {
		return
	}
	w.notified = err
	w.onError(err)
}

// pendingLocked is how many records are still unwritten, the one a failed
// write cut included.
func (w *Writer) pendingLocked() int64 {
	return int64(bytes.Count(w.buf, []byte{'\n'}) - w.lead)
}

// Close flushes, syncs and closes the file (when the Writer owns one).
// Records it cannot write are counted as dropped and Close returns an error
// that says how many. Writes after Close return ErrClosed. Close is
// idempotent.
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
	changed := w.flushLocked()
	var err error
	if w.err != nil {
		lost := w.pendingLocked()
		w.dropped += lost
		err = fmt.Errorf("%d records not written: %w", lost, w.err)
		w.err = err
	}
	if w.f != nil {
		if serr := w.f.Sync(); serr != nil && err == nil {
			err = fmt.Errorf("sync record log: %w", serr)
		}
		if cerr := w.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close record log: %w", cerr)
		}
	}
	w.mu.Unlock()
	if changed || err != nil {
		w.notify()
	}
	return err
}
