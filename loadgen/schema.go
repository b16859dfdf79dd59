package loadgen

// JSON Schemas of the scenario scalars with a syntax of their own (used by
// `aiload schema`).

// JSONSchema describes a duration: "90s", "2m", "1h30m" or 0.
func (Duration) JSONSchema() map[string]any {
	return map[string]any{
		"description": "a duration such as 90s, 2m, 1h30m",
		"oneOf": []any{
			map[string]any{"type": "string", "pattern": `^\s*(0|([0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|h))+)\s*$`},
			map[string]any{"const": 0},
		},
	}
}

// JSONSchema describes a rate: "30/min", "2/s", "100/h" or a number per second.
func (Rate) JSONSchema() map[string]any {
	return map[string]any{
		"description": "a rate such as 30/min, 2/s, 100/h, or a number per second",
		"oneOf": []any{
			map[string]any{"type": "number"},
			map[string]any{"type": "string", "pattern": `^\s*-?[0-9]*\.?[0-9]+\s*(/\s*(s|sec|second|m|min|minute|h|hour)\s*)?$`},
		},
	}
}

// JSONSchema describes a distribution: a number (fixed) or a mapping.
func (Dist) JSONSchema() map[string]any {
	num := map[string]any{"type": "number"}
	obj := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"dist":   map[string]any{"enum": distKinds},
			"value":  num,
			"min":    num,
			"max":    num,
			"mean":   num,
			"stddev": num,
			"median": num,
			"p95":    num,
			"weight": num,
			"of":     map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
			"file":   map[string]any{"type": "string", "description": "CSV of observed values, relative to the scenario"},
			"column": map[string]any{"type": "string"},
			"values": map[string]any{"type": "array", "items": num},
		},
		"required":             []string{"dist"},
		"additionalProperties": false,
	}
	return map[string]any{
		"description": "a number (fixed) or {dist: fixed|uniform|normal|lognormal|exponential|mixture|empirical, …}",
		"oneOf":       []any{num, obj},
	}
}
