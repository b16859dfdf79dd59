package main

import (
	"io"
	"net"
	"testing"
)

// TestGatewayServeFlagsLoopback: `aiload gateway serve` without --listen
// or --admin binds both listeners to loopback.
func TestGatewayServeFlagsLoopback(t *testing.T) {
	t.Parallel()
	cmd, _, err := newRootCmd(io.Discard, io.Discard).Find([]string{"gateway", "serve"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"listen", "admin"} {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			t.Fatalf("no --%s flag", name)
		}
		host, _, err := net.SplitHostPort(f.DefValue)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("--%s defaults to %q, not a loopback address", name, f.DefValue)
		}
	}
}
