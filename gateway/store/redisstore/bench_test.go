package redisstore

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/gateway/store"
	"github.com/aiload/aiload/gateway/store/redisstore/redistest"
)

// BenchmarkRedisDecision: one limit decision (a TPM window and a daily
// quota, reserved then settled, as the gateway does per request) against a
// real redis-server on loopback, over 100,000 keys, from parallel callers.
func BenchmarkRedisDecision(b *testing.B) {
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 64})
	defer rdb.Close()
	s, err := New(rdb, Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var n atomic.Int64
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			key := "user-" + strconv.FormatInt(i%100000, 10)
			at := now.Add(time.Duration(i) * time.Microsecond)
			checks := []store.Check{
				{Key: key, Kind: store.Window, Limit: 100000, Need: 500, Reserve: 500},
				{Key: key, Kind: store.Period, Limit: 10000000, Period: policy.Daily, Need: 500, Reserve: 500},
			}
			if _, err := s.Reserve(ctx, at, checks); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Settle(ctx, at, at, checks, 420); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}
