package gateway

import (
	"net"
	"testing"
)

// TestServeDefaultsLoopback: left unset, both listeners of `aiload gateway
// serve` bind to loopback, so /metrics and /admin/snapshot are not exposed
// to the network unless asked for.
func TestServeDefaultsLoopback(t *testing.T) {
	t.Parallel()
	var o ServeOptions
	o.defaults()
	for name, addr := range map[string]string{"listen": o.Listen, "admin": o.Admin} {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("default %s address %q is not a loopback address", name, addr)
		}
	}
	if o.HeaderTimeout <= 0 || o.BodyTimeout <= 0 || o.MaxHeaderBytes <= 0 {
		t.Errorf("defaults leave a limit off: header timeout %v, body timeout %v, max header bytes %d", o.HeaderTimeout, o.BodyTimeout, o.MaxHeaderBytes)
	}
}
