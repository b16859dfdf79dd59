package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server running h, set up by configure,
// that counts the connections it accepted.
func countingServer(t *testing.T, h http.HandlerFunc, configure ...func(*http.Server)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	for _, c := range configure {
		c(srv.Config)
	}
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func newTestH1(t *testing.T) *Transport {
	t.Helper()
	tr := New(http.DefaultTransport, Options{Dialer: net.Dialer{Timeout: 5 * time.Second}, MaxIdle: 4, IdleTimeout: time.Minute, RawReads: true})
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// post sends body to url through tr and returns the answer's status and body.
func post(t *testing.T, tr http.RoundTripper, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return resp.StatusCode, string(b)
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func TestH1TransportReusesConnections(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, echo)
	tr := newTestH1(t)
	for i := range 10 {
		want := strings.Repeat("x", i*100_000) // past a socket buffer: writes and reads wait
		if code, got := post(t, tr, srv.URL+"/v1/chat/completions", want); code != 200 || got != want {
			t.Fatalf("request %d: status %d, body of %d bytes; want 200 and the %d bytes sent", i, code, len(got), len(want))
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("10 requests one after the other opened %d connections, want 1", n)
	}
}

func TestH1TransportAfterTheServerClosedAnIdleConnection(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, echo, func(s *http.Server) { s.IdleTimeout = 50 * time.Millisecond })
	tr := newTestH1(t)
	for i := range 3 {
		if code, got := post(t, tr, srv.URL, "hello"); code != 200 || got != "hello" {
			t.Fatalf("request %d: status %d, body %q", i, code, got)
		}
		time.Sleep(200 * time.Millisecond) // the server closes the idle connection
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("opened %d connections, want 3 (one per request after each idle close)", n)
	}
}

func TestH1TransportConnectionClose(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		echo(w, r)
	})
	tr := newTestH1(t)
	for range 2 {
		if code, got := post(t, tr, srv.URL, "hi"); code != 200 || got != "hi" {
			t.Fatalf("status %d, body %q", code, got)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("answers with Connection: close: opened %d connections, want 2", n)
	}
}

func TestH1TransportStreams(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-next
		_, _ = io.WriteString(w, "data: two\n\n")
	})
	tr := newTestH1(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	if err != nil || string(buf[:n]) != "data: one\n\n" {
		t.Fatalf("first read: %q, %v; want the first event before the server sends the second", buf[:n], err)
	}
	close(next)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "data: two\n\n" {
		t.Fatalf("rest: %q, %v", rest, err)
	}
}

func TestH1TransportContextEndsTheWait(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		echo(w, r)
	})
	defer close(release)
	tr := newTestH1(t)
	if code, _ := post(t, tr, srv.URL, "warm"); code != 200 {
		t.Fatalf("status %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/slow", strings.NewReader("x"))
	start := time.Now()
	_, err := tr.RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v, want soon after the 50 ms deadline", d)
	}
	// The abandoned connection is not reused: the next request gets an
	// answer of its own on a new one.
	if code, got := post(t, tr, srv.URL, "after"); code != 200 || got != "after" {
		t.Fatalf("next request: status %d, body %q", code, got)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("opened %d connections, want 2", n)
	}
}

func TestH1TransportBodyClosedEarly(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("y", 100_000))
	})
	tr := newTestH1(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 10)); err == nil {
		t.Error("Read after Close succeeded")
	}
	if code, got := post(t, tr, srv.URL, "x"); code != 200 || len(got) != 100_000 {
		t.Fatalf("next request: status %d, %d bytes", code, len(got))
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("opened %d connections, want 2 (the half-read answer's is closed)", n)
	}
}

func TestH1TransportHandsHTTPSToNext(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	tr := New(srv.Client().Transport, Options{MaxIdle: 4, IdleTimeout: time.Minute})
	defer tr.CloseIdleConnections()
	if code, got := post(t, tr, srv.URL, "x"); code != 200 || got != "HTTP/2.0" {
		t.Fatalf("status %d, body %q: want HTTP/2 through the next transport", code, got)
	}
}

func TestH1TransportKeepsAtMostMaxIdle(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, echo)
	tr := newTestH1(t) // 4 idle connections per host
	var bodies []io.ReadCloser
	for range 6 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
	}
	for _, b := range bodies {
		_, _ = io.ReadAll(b)
		b.Close()
	}
	tr.mu.Lock()
	n := len(tr.idle[strings.TrimPrefix(srv.URL, "http://")])
	tr.mu.Unlock()
	if n != 4 {
		t.Errorf("%d idle connections after 6 concurrent answers, want 4", n)
	}
}

// TestH1TransportReportsTheConnection: a request's trace hears of the
// connection it got (the load generator's send time), new then reused.
func TestH1TransportReportsTheConnection(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, echo)
	tr := newTestH1(t)
	for i, wantReused := range []bool{false, true} {
		var got []httptrace.GotConnInfo
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { got = append(got, info) },
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("x"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(got) != 1 || got[0].Reused != wantReused || got[0].Conn == nil {
			t.Errorf("request %d: GotConn calls %+v, want one with Reused %v", i, got, wantReused)
		}
	}
}

// TestRawIODeadline: a read on a socket with nothing to read waits, and
// ends at the connection's deadline as a net.Conn's does; a read after
// Close fails as one does.
func TestRawIODeadline(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := withRawIO(nc)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := c.Read(make([]byte, 10))
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %d bytes, %v; want the deadline's error", n, err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Errorf("error %#v, want a net.OpError of op read", err)
	}
	c.Close()
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v, want net.ErrClosed", err)
	}
}
