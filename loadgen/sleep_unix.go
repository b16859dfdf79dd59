//go:build unix

package loadgen

import (
	"syscall"
	"time"
)

// fineSleep sleeps d in the kernel (nanosleep), which on Linux wakes
// within tens of microseconds; an interrupted sleep returns early.
func fineSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
