package scenario

import (
	"encoding/json"
	"reflect"
	"time"
)

// SchemaProvider is implemented by types that describe their own scenario
// shape in JSON Schema (scalars with a syntax of their own, like "30/min").
type SchemaProvider interface {
	JSONSchema() map[string]any
}

var schemaProvider = reflect.TypeFor[SchemaProvider]()

// Enumerated is implemented by structs with fields that take one of a
// closed set of values: Enums maps each such field's YAML name to its
// values, the one list both validation and the JSON Schema use.
type Enumerated interface {
	Enums() map[string][]string
}

var enumerated = reflect.TypeFor[Enumerated]()

// JSONSchema returns a JSON Schema (draft 2020-12) of scenario files, for
// editors: yaml-language-server reads it from a modeline such as
//
//	# yaml-language-server: $schema=aiload.schema.json
func JSONSchema() ([]byte, error) {
	s := schemaOf(reflect.TypeFor[Scenario]())
	props := s["properties"].(map[string]any)
	props["gateway"] = map[string]any{
		"description": "the embedded gateway's configuration, or the path of a YAML file holding it",
		"oneOf":       []any{props["gateway"], map[string]any{"type": "string"}},
	}
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://github.com/aiload/aiload/scenario.schema.json"
	s["title"] = "aiload scenario"
	s["required"] = []string{"personas"}
	s["patternProperties"] = map[string]any{"^x-": map[string]any{}} // anchors for reuse
	return json.MarshalIndent(s, "", "  ")
}

func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(schemaProvider) {
		return reflect.Zero(t).Interface().(SchemaProvider).JSONSchema()
	}
	if custom(t) {
		return map[string]any{}
	}
	if t == reflect.TypeFor[time.Duration]() { // goccy/go-yaml decodes "80ms"
		return map[string]any{"type": "string", "description": "a Go duration, e.g. 80ms, 30s, 2m"}
	}
	switch t.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		structProps(t, props)
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	}
	return map[string]any{}
}

func structProps(t reflect.Type, props map[string]any) {
	yamlFields(t, func(name string, f reflect.StructField) bool {
		props[name] = schemaOf(f.Type)
		return true
	})
	if t.Implements(enumerated) {
		for name, values := range reflect.Zero(t).Interface().(Enumerated).Enums() {
			if p, ok := props[name].(map[string]any); ok {
				p["enum"] = values
			}
		}
	}
}
