package gcpolicy

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	debug.SetGCPercent(100)
	Apply()
	if got := debug.SetGCPercent(100); got != Percent {
		t.Errorf("GOGC unset: GC percent %d; want %d", got, Percent)
	}
	if got := debug.SetMemoryLimit(-1); got != MemoryLimit {
		t.Errorf("GOMEMLIMIT unset: memory limit %d; want %d", got, MemoryLimit)
	}

	// The user's own settings win.
	t.Setenv("GOGC", "50")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetGCPercent(50)
	debug.SetMemoryLimit(1 << 30)
	Apply()
	if got := debug.SetGCPercent(100); got != 50 {
		t.Errorf("GOGC=50: GC percent %d; want 50 kept", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("GOMEMLIMIT=1GiB: memory limit %d; want 1 GiB kept", got)
	}
}

func TestForReport(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	for _, tc := range []struct {
		name    string
		records int64
		want    int64
	}{
		{"no records", 0, ReportMemoryFloor},
		{"half a million records", 500_000, ReportMemoryFloor},
		{"a day of mixed-day", 800_564, 51_236_096},
		{"ten million records", 10_000_000, 640_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64) // no limit before
			restore := ForReport(tc.records)
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Errorf("memory limit %d; want %d", got, tc.want)
			}
			restore()
			if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
				t.Errorf("after restore: memory limit %d; want none back", got)
			}
		})
	}

	// a lower limit in force is kept (aiload's own 256 MiB for ten
	// million records), and so is the user's own
	debug.SetMemoryLimit(MemoryLimit)
	ForReport(10_000_000)()
	if got := debug.SetMemoryLimit(-1); got != MemoryLimit {
		t.Errorf("limit %d in force: memory limit %d; want it kept", MemoryLimit, got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30)
	restore := ForReport(0)
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("GOMEMLIMIT=1GiB: memory limit %d; want 1 GiB kept", got)
	}
	restore()
}
