package gateway

import (
	"testing"
	"time"
)

// TestWaitPhrase: quota waits read as API Management writes them ("21
// minutes and 33 seconds"), longer ones with hours and days the same way.
func TestWaitPhrase(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		41 * time.Second:                         "41 seconds",
		time.Second:                              "1 second",
		500 * time.Millisecond:                   "1 second", // rounded up
		21*time.Minute + 33*time.Second:          "21 minutes and 33 seconds",
		time.Minute:                              "1 minute",
		3*time.Hour + 5*time.Second:              "3 hours and 5 seconds",
		49*time.Hour + time.Minute + time.Second: "2 days, 1 hour, 1 minute and 1 second",
		0:                                        "0 seconds",
	} {
		if got := waitPhrase(d); got != want {
			t.Errorf("waitPhrase(%v) = %q, want %q", d, got, want)
		}
	}
}
