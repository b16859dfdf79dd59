package dashboard

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muesli/termenv"
)

// scripted serves the scripted run's snapshots, one per request.
func scripted(t *testing.T) *httptest.Server {
	t.Helper()
	run := script()
	var i atomic.Int32
	srv := httptest.NewServer(Handler(func(time.Time) Snapshot {
		s := run[min(int(i.Add(1))-1, len(run)-1)]
		s.Phase, s.Total = PhaseAttached, 0
		return s
	}, nil))
	t.Cleanup(srv.Close)
	return srv
}

// TestPollerFetch round-trips a snapshot through the handler as JSON.
func TestPollerFetch(t *testing.T) {
	t.Parallel()
	srv := scripted(t)
	for _, url := range []string{srv.URL, srv.URL + "/", srv.URL + SnapshotPath} {
		p := Poller{URL: url}
		s, err := p.Fetch(context.Background())
		if err != nil {
			t.Fatalf("Fetch(%s): %v", url, err)
		}
		if s.Scenario != "quickstart" || len(s.Teams) != 3 || s.Teams[1].TPMLimit != 10000 || !s.At.Equal(t0.Add(time.Second)) && !s.At.After(t0) {
			t.Errorf("Fetch(%s) = %+v", url, s)
		}
	}
	if _, err := (&Poller{URL: srv.URL + "/nope"}).Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("fetch from a wrong path: err %v, want a 404", err)
	}
}

// TestPollerKeepsLastOnError: when the gateway stops answering, the last
// snapshot is resent with the reason, and its age keeps growing on screen.
func TestPollerKeepsLastOnError(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	good := Handler(func(time.Time) Snapshot { return script()[0] }, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		good.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Snapshot, 1)
	go (&Poller{URL: srv.URL, Every: 10 * time.Millisecond}).Run(ctx, out)
	first := <-out
	down.Store(true)
	for s := range out {
		if s.Note == "" {
			continue
		}
		if !strings.Contains(s.Note, "503") || !s.At.Equal(first.At) || len(s.Teams) != 3 {
			t.Errorf("after a failed poll: note %q, at %v (want %v), %d teams", s.Note, s.At, first.At, len(s.Teams))
		}
		m := feed(t, pinned(termenv.Ascii, 100, 24, nil), snapshotMsg(first), tickMsg(first.At.Add(5*time.Second)), snapshotMsg(s))
		if v := m.View(); !strings.Contains(v, "no update for 0:05") || !strings.Contains(v, "503") {
			t.Errorf("screen after a failed poll:\n%s", v)
		}
		cancel()
		break
	}
}

// TestWatchPlain attaches headless: progress lines until ctx ends.
func TestWatchPlain(t *testing.T) {
	t.Parallel()
	srv := scripted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var w bytes.Buffer
	if err := Watch(ctx, Poller{URL: srv.URL, Every: 100 * time.Millisecond}, nil, &w, time.Second); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if !strings.Contains(w.String(), "sent 12  ok 10  429 2") || !strings.Contains(w.String(), "research-sub (research)") {
		t.Errorf("progress lines:\n%s", w.String())
	}
}

// TestWatchUnreachable fails at once with the address in the error.
func TestWatchUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := Watch(context.Background(), Poller{URL: url}, nil, &bytes.Buffer{}, 0)
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Errorf("Watch on a closed port: %v", err)
	}
}
