package main

import (
	"strings"
	"testing"
)

func TestGatewayServeBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"gateway", "serve"}, "--config is required"},
		// The unsupported expression is named at its line, exit status 2.
		{[]string{"gateway", "serve", "--config", "testdata/gateway_bad_key.yaml", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"},
			`testdata/gateway_bad_key.yaml:6:`},
	} {
		code, _, stderr := execute(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.wantErr) {
			t.Errorf("aiload %v: exit %d stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.wantErr)
		}
	}
}
