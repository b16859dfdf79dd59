package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// SnapshotPath is where an admin listener serves the dashboard snapshot.
const SnapshotPath = "/admin/snapshot"

// Handler serves GET SnapshotPath: the Snapshot that snap returns for the
// current time, as JSON. now is the clock (default time.Now).
func Handler(snap func(now time.Time) Snapshot, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+SnapshotPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(snap(now()))
	})
	return mux
}

// Poller fetches snapshots from an admin listener.
type Poller struct {
	// URL is the admin listener's base URL (http://host:port) or the full
	// snapshot URL.
	URL string
	// Every is the polling interval (default 1 s).
	Every time.Duration
	// Client makes the requests (default: a client with a 5 s timeout).
	Client *http.Client
}

// Fetch gets one snapshot.
func (p *Poller) Fetch(ctx context.Context) (Snapshot, error) {
	url := strings.TrimRight(p.URL, "/")
	if !strings.HasSuffix(url, SnapshotPath) {
		url += SnapshotPath
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Snapshot{}, fmt.Errorf("fetch snapshot: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Snapshot{}, fmt.Errorf("fetch snapshot: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Snapshot{}, fmt.Errorf("fetch snapshot: %s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	var s Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return Snapshot{}, fmt.Errorf("decode snapshot from %s: %w", url, err)
	}
	return s, nil
}

// Run polls until ctx ends, sending each snapshot on out (capacity ≥ 1;
// see SendLatest), then closes out. A failed poll resends the last
// snapshot with the error as its Note.
func (p *Poller) Run(ctx context.Context, out chan Snapshot) {
	defer close(out)
	every := p.Every
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var last Snapshot
	for {
		s, err := p.Fetch(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// Keep showing the last snapshot (its age shows it is stale)
			// with the reason.
			last.Note = err.Error()
			SendLatest(out, last)
		default:
			last = s
			SendLatest(out, s)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SendLatest puts s on ch (capacity ≥ 1), replacing a snapshot still
// waiting there: a view wants the latest, never a backlog. Senders must
// not race each other on ch.
func SendLatest(ch chan Snapshot, s Snapshot) {
	select {
	case ch <- s:
		return
	default:
	}
	select {
	case <-ch:
	default:
	}
	ch <- s
}
