package pricing

// CostType is what a bill line pays for. The same names are used by the
// chargeback (analytics), every report (CSV, FOCUS, PDF) and the JSON output.
type CostType string

// The cost types, in report order.
const (
	PAYGInput       CostType = "payg_input"        // uncached prompt tokens at the input price
	PAYGCachedInput CostType = "payg_cached_input" // cached prompt tokens at the cached-input price
	PAYGOutput      CostType = "payg_output"       // completion tokens at the output price
	PTUShare        CostType = "ptu_share"         // a share of a provisioned-throughput (PTU) charge
)

// CostTypes lists the cost types in report order.
func CostTypes() []CostType { return []CostType{PAYGInput, PAYGCachedInput, PAYGOutput, PTUShare} }

// Order is the cost type's position in report order (unknown types last).
func (c CostType) Order() int {
	for i, t := range CostTypes() {
		if t == c {
			return i
		}
	}
	return len(CostTypes())
}

// Label is the human name of the cost type ("PAYG input").
func (c CostType) Label() string {
	switch c {
	case PAYGInput:
		return "PAYG input"
	case PAYGCachedInput:
		return "PAYG cached input"
	case PAYGOutput:
		return "PAYG output"
	case PTUShare:
		return "PTU share"
	}
	return string(c)
}
