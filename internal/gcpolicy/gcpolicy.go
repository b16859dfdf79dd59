// Package gcpolicy holds the garbage-collector settings aiload's processes
// run with. A load generator and a gateway allocate a little for every
// request over a small live heap, so with Go's default (GOGC=100) they
// collect several times a second, and each collection's mark phase takes a
// quarter of the CPU and delays the requests due meanwhile: on 2 cores the
// load generator's schedule-lag p99 stayed under 2 ms only up to ~500
// req/s, against thousands with collections four times rarer (see
// docs/benchmarks.md).
package gcpolicy

import (
	"os"
	"runtime/debug"
)

const (
	// Percent is GOGC: collect when the heap has grown by 400% of what
	// the last collection kept.
	Percent = 400
	// MemoryLimit is the soft limit on the Go heap (GOMEMLIMIT): past it
	// the collector runs as often as it needs to (at most half the CPU),
	// so the rarer collections never let the heap grow beyond it.
	MemoryLimit = 256 << 20
)

// Apply sets Percent and MemoryLimit, each unless the user chose their own
// through GOGC or GOMEMLIMIT.
func Apply() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}

// ForAnalysis sets Go's default pace (GOGC=100) for the analyses and
// reports after a load, unless the user chose GOGC, and returns a function
// that sets back the pace before. Rendering a report allocates hundreds of
// megabytes over a live heap of tens: at Percent that garbage grew the Go
// heap to about 200 MB, the peak of a whole run.
func ForAnalysis() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(100)
	return func() { debug.SetGCPercent(prev) }
}

const (
	// ReportMemoryFloor and ReportBytesPerRecord make the soft limit on
	// the Go heap while a run's report is built from its records: the
	// replay behind the recommendations holds ~24 bytes per record (36
	// while its parts are joined) over a live heap of ~15 MB, and at Go's
	// default pace its garbage took the heap to twice that. A limit near
	// the live heap makes the collector keep to it and give the rest back
	// to the system at once.
	ReportMemoryFloor    = 48 << 20
	ReportBytesPerRecord = 64
)

// ForReport sets the soft limit on the Go heap (GOMEMLIMIT) to
// ReportMemoryFloor or ReportBytesPerRecord for each of records, whichever
// is more, unless the user chose GOMEMLIMIT or the limit in force is
// lower, and returns a function that sets back the limit before. The
// limit grows with the records, so the collector never runs without pause
// to keep a heap that the records fill: for a day of mixed-day (800,564
// records) it is 51 MB, where the heap's live peak is ~35 MB.
func ForReport(records int64) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := max(int64(ReportMemoryFloor), ReportBytesPerRecord*records)
	prev := debug.SetMemoryLimit(-1)
	if prev <= limit {
		return func() {}
	}
	debug.SetMemoryLimit(limit)
	return func() { debug.SetMemoryLimit(prev) }
}
