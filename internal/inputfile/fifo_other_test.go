//go:build !unix

package inputfile

import "errors"

// mkfifo is unix only.
func mkfifo(string) error { return errors.ErrUnsupported }
