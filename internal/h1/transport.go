// Package h1 is the HTTP/1.1 client transport of aiload's load generator
// and of the gateway's backend requests. http.Transport hands each request
// to a writer goroutine and its answer back from a reader goroutine per
// connection: at thousands of requests a second those handoffs, and the
// threads they wake, cost the load generator more CPU than its own work per
// request, and a gateway as much as its own work (see docs/benchmarks.md,
// "Beside vegeta" and "Beside nginx").
package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// Transport sends plain-HTTP (http://) requests over HTTP/1.1 on
// kept-alive connections, written and read by the goroutine that sends
// the request; every other request (https, which may speak HTTP/2, one
// that an HTTP proxy from the environment applies to, an upgrade) goes to
// next.
//
// Like http.Transport it keeps up to maxIdle idle connections per host for
// up to idleTimeout, checks that an idle connection was not closed by the
// server before reusing it, sends a request again on a new connection only
// when it could not be written on a reused one, ends a request (its wait
// for the answer and the reading of its body) when the request's context
// ends, and reports the connection a request got to its trace's GotConn
// (the other trace hooks are not called). Unlike http.Transport it neither
// asks for nor decompresses gzip: a caller that wants it asks itself.
type Transport struct {
	next        http.RoundTripper
	dialer      net.Dialer
	maxIdle     int
	idleTimeout time.Duration
	rawReads    bool
	// now is the wall clock (idle times).
	now func() time.Time

	mu   sync.Mutex
	idle map[string][]*h1Conn // by host:port, oldest first
}

var _ http.RoundTripper = (*Transport)(nil)

// h1Conn is one kept-alive connection.
type h1Conn struct {
	net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	addr      string
	idleSince time.Time
	reused    bool
}

// Options configure a Transport.
type Options struct {
	// Dialer dials its connections.
	Dialer net.Dialer
	// MaxIdle idle connections are kept per host, each for up to
	// IdleTimeout.
	MaxIdle     int
	IdleTimeout time.Duration
	// RawReads reads the connections with non-blocking system calls of
	// its own on Linux, without announcing them to the Go runtime (see
	// rawio_linux.go); the load generator's choice.
	RawReads bool
}

// New returns a Transport that hands the requests it does not send itself
// to next.
func New(next http.RoundTripper, o Options) *Transport {
	return &Transport{next: next, dialer: o.Dialer, maxIdle: o.MaxIdle, idleTimeout: o.IdleTimeout,
		rawReads: o.RawReads, now: time.Now, idle: map[string][]*h1Conn{}}
}

// RoundTrip sends req and returns its answer, whose body must be closed.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.Header.Get("Upgrade") != "" || req.Method == http.MethodConnect {
		return t.next.RoundTrip(req)
	}
	if p, err := http.ProxyFromEnvironment(req); err != nil || p != nil {
		return t.next.RoundTrip(req)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	ctx := req.Context()
	c, err := t.conn(ctx, addr)
	if err != nil {
		return nil, err
	}
	stop, err := t.write(c, req)
	if err != nil {
		if !c.reused || req.Body != nil && req.GetBody == nil || ctx.Err() != nil {
			return nil, err
		}
		// A reused connection the server had closed: nothing reached it.
		if req, err = rewind(req); err != nil {
			return nil, err
		}
		if c, err = t.dial(ctx, addr); err != nil {
			return nil, err
		}
		if stop, err = t.write(c, req); err != nil {
			return nil, err
		}
	}
	return t.read(ctx, c, req, stop)
}

// rewind is req with a new copy of its body.
func rewind(req *http.Request) (*http.Request, error) {
	if req.GetBody == nil {
		return req, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := *req
	r.Body = body
	return &r, nil
}

// conn is an idle connection to addr that is still open, or a new one,
// reported to ctx's trace. A connection idle for longer than recheckIdle
// is checked first (a recv syscall); one that is handed back within that
// time, as under load, is taken as it is.
func (t *Transport) conn(ctx context.Context, addr string) (*h1Conn, error) {
	for {
		c := t.takeIdle(addr)
		if c == nil {
			c, err := t.dial(ctx, addr)
			if err == nil {
				gotConn(ctx, c, time.Time{})
			}
			return c, err
		}
		if t.now().Sub(c.idleSince) < recheckIdle || connAlive(c.Conn) {
			c.reused = true
			gotConn(ctx, c, c.idleSince)
			return c, nil
		}
		c.Close()
	}
}

// gotConn calls ctx's trace's GotConn for c (idle since idleSince, zero
// for a new connection).
func gotConn(ctx context.Context, c *h1Conn, idleSince time.Time) {
	tr := httptrace.ContextClientTrace(ctx)
	if tr == nil || tr.GotConn == nil {
		return
	}
	info := httptrace.GotConnInfo{Conn: c.Conn, Reused: c.reused, WasIdle: !idleSince.IsZero()}
	if info.WasIdle {
		info.IdleTime = time.Since(idleSince)
	}
	tr.GotConn(info)
}

// recheckIdle is how long a connection may be idle before it is checked
// for a close by the server: servers close idle connections after seconds
// (uvicorn and Node.js 5 s, Go's net/http when it shuts down).
const recheckIdle = 100 * time.Millisecond

func (t *Transport) takeIdle(addr string) *h1Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.idle[addr]
	if len(cs) == 0 {
		return nil
	}
	c := cs[len(cs)-1]
	cs[len(cs)-1] = nil
	t.idle[addr] = cs[:len(cs)-1]
	return c
}

func (t *Transport) dial(ctx context.Context, addr string) (*h1Conn, error) {
	nc, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if t.rawReads {
		nc = withRawIO(nc)
	}
	return &h1Conn{Conn: nc, br: bufio.NewReaderSize(nc, 4<<10), bw: bufio.NewWriterSize(nc, 4<<10), addr: addr}, nil
}

// write sends req on c and returns the function that stops the watch on
// req's context, which ends c's reads and writes when the context ends.
// When it fails, c is closed.
func (t *Transport) write(c *h1Conn, req *http.Request) (stop func() bool, err error) {
	stop = context.AfterFunc(req.Context(), func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	err = req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		stop()
		c.Close()
		if cerr := req.Context().Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	return stop, nil
}

// read reads req's answer on c; the answer's body returns c to the idle
// connections once read to its end, or closes it.
func (t *Transport) read(ctx context.Context, c *h1Conn, req *http.Request, stop func() bool) (*http.Response, error) {
	body := &h1Body{t: t, c: c, ctx: ctx, stop: stop}
	var resp *http.Response
	var err error
	for {
		resp, err = http.ReadResponse(c.br, req)
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// 1xx informational answers precede the real one.
	}
	if err != nil {
		body.stop()
		c.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	body.keep = !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	if resp.Body == http.NoBody {
		body.release(true)
		return resp, nil
	}
	body.rc = resp.Body
	resp.Body = body
	return resp, nil
}

// h1Body is an answer's body on an Transport connection. Close may be
// called while a Read waits: it closes the connection, which ends the Read.
type h1Body struct {
	t    *Transport
	c    *h1Conn
	ctx  context.Context
	rc   io.ReadCloser
	stop func() bool // stops the context's watch
	keep bool        // the connection may carry another request
	done atomic.Bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done.Load() {
		return 0, errBodyClosed
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.release(true)
	case err != nil:
		if cerr := b.ctx.Err(); cerr != nil {
			err = cerr
		}
		b.release(false)
	}
	return n, err
}

// errBodyClosed is a Read after Close.
var errBodyClosed = errors.New("read on closed response body")

// Close ends the body; a body not read to its end closes its connection.
func (b *h1Body) Close() error {
	b.release(false)
	return nil
}

// release gives the connection back (atEOF: the answer was read to its
// end) or closes it. It acts once.
func (b *h1Body) release(atEOF bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	if !b.stop() || !atEOF || !b.keep {
		b.c.Close()
		return
	}
	b.t.putIdle(b.c)
}

// putIdle keeps c for another request, dropping the connections idle for
// longer than idleTimeout and any beyond maxIdle.
func (t *Transport) putIdle(c *h1Conn) {
	now := t.now()
	c.idleSince = now
	t.mu.Lock()
	cs := append(t.idle[c.addr], c)
	drop := 0
	for drop < len(cs) && (len(cs)-drop > t.maxIdle || now.Sub(cs[drop].idleSince) > t.idleTimeout) {
		drop++
	}
	old := make([]*h1Conn, drop)
	copy(old, cs[:drop])
	t.idle[c.addr] = append(cs[:0], cs[drop:]...)
	t.mu.Unlock()
	for _, o := range old {
		o.Close()
	}
}

// CloseIdleConnections closes the idle connections, its own and next's.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*h1Conn{}
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.Close()
		}
	}
	if ci, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
