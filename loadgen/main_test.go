package loadgen

import (
	"fmt"
	"os"
	"testing"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/internal/benchproc"
)

// TestMain serves the benchmarks' mock backend when the test binary is
// re-executed for it (see BenchmarkMaxRate).
func TestMain(m *testing.M) {
	if role := benchproc.Role(); role != "" {
		if role != "mock" {
			fmt.Fprintf(os.Stderr, "unknown benchmark server role %q\n", role)
			os.Exit(1)
		}
		if err := benchproc.Serve(mockllm.New(mockllm.Config{Seed: 1})); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
