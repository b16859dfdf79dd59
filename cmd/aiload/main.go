// Command aiload tests token limits of an AI gateway with realistic traffic,
// sizes them from data, and produces chargeback reports.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/aiload/aiload/internal/gcpolicy"
	"github.com/aiload/aiload/scenario"
)

// usageError marks bad flags or arguments (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	gcpolicy.Apply()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
	}()
	err := newRootCmd(os.Stdout, os.Stderr).ExecuteContext(ctx)
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err and maps it to the process status: 0 ok, 2 bad input
// or usage, 1 any other failure.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "aiload:", err)
	var se scenario.Errors
	var ue usageError
	if errors.As(err, &se) || errors.As(err, &ue) {
		return 2
	}
	return 1
}
