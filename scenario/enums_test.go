package scenario

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aiload/aiload/loadgen"
)

// TestSchemaEnumsAreTheGoLists: every enum of `aiload schema` is the list
// validation checks against, at the field it belongs to, and no struct
// field carries values of its own in a tag.
func TestSchemaEnumsAreTheGoLists(t *testing.T) {
	t.Parallel()
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	persona := "properties.personas.items.properties."
	want := map[string][]string{
		"properties.clock.":                 Clocks,
		persona + "kind.":                   loadgen.Kinds,
		persona + "arrival.":                loadgen.Arrivals,
		persona + "on_throttle.":            loadgen.ThrottlePolicies,
		persona + "api.":                    loadgen.Operations,
		persona + "profile.":                loadgen.Profiles,
		persona + "shape.properties.kind.":  loadgen.ShapeKinds,
		"properties.target.properties.api.": loadgen.APIs,
	}
	got := map[string][]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch n := v.(type) {
		case map[string]any:
			for k, c := range n {
				if k == "enum" {
					for _, e := range c.([]any) {
						got[path] = append(got[path], e.(string))
					}
					continue
				}
				walk(path+k+".", c)
			}
		case []any:
			for _, c := range n {
				walk(path, c)
			}
		}
	}
	walk("", schema)
	for path, values := range want {
		if !slices.Equal(got[path], values) {
			t.Errorf("schema %senum = %q, want %q", path, got[path], values)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok && !strings.HasSuffix(path, ".dist.") { // a distribution's kinds: Dist.JSONSchema
			t.Errorf("schema %senum is not tied to a Go list here: %q", path, got[path])
		}
	}
	seen := map[reflect.Type]bool{}
	var tags func(t reflect.Type, path string)
	tags = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for f := range typ.Fields() {
			if f.Tag.Get("enum") != "" {
				t.Errorf("%s%s has an enum tag; list the values in its type's Enums method", path, f.Name)
			}
			tags(f.Type, path+f.Name+".")
		}
	}
	tags(reflect.TypeFor[Scenario](), "Scenario.")
}
