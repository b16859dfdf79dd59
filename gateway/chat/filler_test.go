package chat

import "testing"

func TestFillerLen(t *testing.T) {
	f := Filler{"the", "model", "answers"}
	for n := int64(0); n < 10; n++ {
		if got, want := f.Len(n), len(f.Text(n)); got != want {
			t.Errorf("Len(%d) = %d; len(Text(%d)) = %d", n, got, n, want)
		}
	}
	if got := f.Text(4); got != "the model answers the" {
		t.Errorf("Text(4) = %q", got)
	}
}
