package scenario

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse: any bytes given as a scenario either parse into a scenario or
// come back as Errors, each naming the file; nothing panics.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"../scenarios/quickstart.yaml", "../scenarios/mixed-day.yaml"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{"", "name: x", "personas: [1, 2]", "duration: -5s", "personas:\n  - rate: 1/fortnight",
		"gateway: {products: [{name: a, token_limits: [{counter_key: '@(context.Foo)'}]}]}", "{{{", "- - -", "\t"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		sc, err := Parse("fuzz.yaml", src)
		if err == nil {
			if sc == nil {
				t.Fatal("nil scenario without an error")
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error %v is not scenario.Errors", err)
		}
		for _, e := range es {
			if e.File != "fuzz.yaml" || e.Line < 0 || e.Column < 0 {
				t.Fatalf("error without its place: %+v", e)
			}
		}
	})
}
