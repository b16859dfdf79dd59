package gateway

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aiload/aiload/record"
)

// internalError answers a failure of the gateway's surroundings (a backend
// that cannot be reached, the counter store) with a generic message and the
// request id; cause, which may name internal addresses, goes to the log.
func (g *Gateway) internalError(x *exchange, status int, outcome record.Outcome, code, msg string, cause error) {
	g.opts.Logf("request %s: %d %s: %v", x.rec.RequestID, status, code, cause)
	g.reject(x, status, outcome, "server_error", code,
		fmt.Sprintf("%s (request id %s; the gateway's log has the details)", msg, x.rec.RequestID))
}

// metered refuses the request with 503 while the record log cannot be
// written and the gateway was told to refuse then (Options.Unmetered).
func (g *Gateway) metered(x *exchange) bool {
	if g.opts.Unmetered == nil {
		return true
	}
	err := g.opts.Unmetered()
	if err == nil {
		return true
	}
	x.setHeader("Retry-After", "1")
	x.rec.RetryAfterMS = 1000
	x.rec.Status, x.rec.Outcome = http.StatusServiceUnavailable, record.OutcomeStoreUnavailable
	g.finish(x)
	msg := fmt.Sprintf("Requests cannot be metered right now, so the gateway refuses them. Try again later. (request id %s)", x.rec.RequestID)
	if g.apim() {
		x.failAPIM(http.StatusServiceUnavailable, msg)
		return false
	}
	x.fail(http.StatusServiceUnavailable, "server_error", "records_unavailable", msg)
	return false
}

// RecordsDropped returns how many records the gateway's sink refused
// (aiload_gateway_records_dropped_total).
func (g *Gateway) RecordsDropped() int64 { return g.drops.count() }

// dropLog counts records the sink refused and says when to log one: the
// first, then at most one a second, so a full disk does not flood the log.
type dropLog struct {
	mu     sync.Mutex
	n      int64
	logged time.Time
}

// add counts a drop at now; it returns the count so far and whether to log.
func (d *dropLog) add(now time.Time) (int64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	if d.n > 1 && now.Sub(d.logged) < time.Second {
		return d.n, false
	}
	d.logged = now
	return d.n, true
}

func (d *dropLog) count() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// privateError shows callers public; err, which may name internal
// addresses, is for the gateway's log.
type privateError struct {
	public string
	err    error
}

func (e *privateError) Error() string { return e.public }
