package loadgen

import (
	"fmt"
	"os"
	"testing"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/internal/benchproc"
)

// TestMain serves the benchmarks' mock backend, or runs one of their load
// generators, when the test binary is re-executed for it (see
// BenchmarkMaxRate and BenchmarkBesideVegeta).
func TestMain(m *testing.M) {
	if role := benchproc.Role(); role != "" {
		var err error
		if role == "mock" {
			err = benchproc.Serve(mockllm.New(mockllm.Config{Seed: 1}))
		} else {
			err = serveLoad(role)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
