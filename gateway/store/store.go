// Package store keeps the gateway's token counters behind one small
// interface, so that one gateway can count in memory and several can share
// counters (Redis). Every operation is one atomic unit that takes now
// explicitly: a Lua script can implement each of them, and the conformance
// suite in storetest checks every implementation against the same cases.
package store

import (
	"context"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// Kind is the kind of a counter.
type Kind uint8

const (
	// Window is a sliding window of Span (policy.TPMWindow when 0) over
	// the charges made: tokens per minute, or calls per renewal period.
	Window Kind = iota
	// Period is a quota counter: a fixed window given by Period, starting at
	// the UTC time truncated to the period's unit, or, when Period is empty,
	// by Renewal.
	Period
)

// Check is one counter a request must fit in.
type Check struct {
	// Key names the counter (one counter per Kind, Key and Period).
	Key  string
	Kind Kind
	// Limit is the tokens per minute (Window) or the quota (Period); > 0.
	Limit int64
	// Period is the quota period of a Period counter.
	Period policy.QuotaPeriod
	// Renewal is a Period counter's fixed window when Period is empty.
	Renewal policy.Renewal
	// Span is a Window counter's span (policy.TPMWindow when 0). The
	// counters of one Key share one span: callers put the span in Key.
	Span time.Duration
	// Need is the room the counter must have: the request passes iff
	// used + Need <= Limit (see policy.DemandFor).
	Need int64
	// Reserve is charged at admission, stamped with now, and replaced by the
	// actual usage in Settle.
	Reserve int64
}

// Verdict is the answer of Reserve.
type Verdict struct {
	// Allowed is true when every check passed; then each Reserve was charged.
	Allowed bool
	// Denied is the index of the check that refused: the first Period check
	// that refused if any (quota wins: 403), else the first Window check
	// (429); -1 when allowed.
	Denied int
	// RetryAfter is how long until the denying check could pass.
	RetryAfter time.Duration
	// Remaining is, per check, max(0, Limit - used) after this decision.
	Remaining []int64
}

// Store holds token counters. Implementations are safe for concurrent use.
type Store interface {
	// Reserve decides checks at now, all or nothing: when every check
	// passes, each one's Reserve is charged at now; when any refuses,
	// nothing is charged.
	Reserve(ctx context.Context, now time.Time, checks []Check) (Verdict, error)
	// Settle replaces what Reserve charged at reservedAt by the actual
	// tokens used: a Window check with Reserve > 0 has its charge at
	// reservedAt adjusted by actual-Reserve (it expires one window after
	// reservedAt); a check with Reserve 0 is charged actual at now. A Period
	// check is adjusted in the period holding reservedAt (Reserve > 0) or now
	// (Reserve 0); a period that has ended is left alone. Settle with actual
	// 0 releases a reservation. It returns Remaining per check afterwards.
	Settle(ctx context.Context, now, reservedAt time.Time, checks []Check, actual int64) ([]int64, error)
}

// Bounds returns the fixed window of a Period check holding at.
func (c Check) Bounds(at time.Time) (start, end time.Time) {
	if c.Period == "" {
		return c.Renewal.Bounds(at)
	}
	return c.Period.Bounds(at)
}

// WindowSpan returns a Window check's span.
func (c Check) WindowSpan() time.Duration {
	if c.Span <= 0 {
		return policy.TPMWindow
	}
	return c.Span
}

// PeriodID names a Period check's kind of window: checks of one Key with
// the same PeriodID share a counter.
func (c Check) PeriodID() string {
	if c.Period != "" {
		return string(c.Period)
	}
	return "every:" + c.Renewal.Every.String() + ":" + c.Renewal.Start.UTC().Format(time.RFC3339)
}
