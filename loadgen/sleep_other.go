//go:build !unix

package loadgen

import "time"

// fineSleep sleeps d on a runtime timer (no finer sleep on this platform).
func fineSleep(d time.Duration) { time.Sleep(d) }
