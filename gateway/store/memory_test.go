package store_test

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/aiload/aiload/gateway/policy"
	"testing"

	"github.com/aiload/aiload/gateway/store"
	"github.com/aiload/aiload/gateway/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) store.Store { return store.NewMemory() })
}

// BenchmarkMemoryDecisions measures limit decisions (a TPM and a daily quota
// check, reserved and then settled) over 100,000 distinct counter keys.
func BenchmarkMemoryDecisions(b *testing.B) {
	const keys = 100_000
	s := store.NewMemory()
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("sub-%06d", i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		now := storetest.T0.Add(time.Duration(i) * time.Microsecond)
		checks := []store.Check{
			{Key: names[i%keys], Kind: store.Window, Limit: 100_000, Need: 1},
			{Key: names[i%keys], Kind: store.Period, Limit: 10_000_000, Period: policy.Daily, Need: 1},
		}
		if _, err := s.Reserve(ctx, now, checks); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Settle(ctx, now, now, checks, 500); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkMemoryPerKey reports the heap held per active key: 100,000 keys,
// each with one charge in its TPM window and a running daily quota.
func BenchmarkMemoryPerKey(b *testing.B) {
	const keys = 100_000
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("sub-%06d", i)
	}
	ctx := context.Background()
	var perKey float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := store.NewMemory()
		for i, k := range names {
			checks := []store.Check{
				{Key: k, Kind: store.Window, Limit: 100_000, Need: 1},
				{Key: k, Kind: store.Period, Limit: 10_000_000, Period: policy.Daily, Need: 1},
			}
			now := storetest.T0.Add(time.Duration(i) * time.Microsecond)
			if _, err := s.Reserve(ctx, now, checks); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Settle(ctx, now, now, checks, 500); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perKey = float64(after.HeapAlloc-before.HeapAlloc) / keys
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perKey, "bytes/key")
}
