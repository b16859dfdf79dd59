package scenario

// Clocks lists the clock values.
var Clocks = []string{ClockWall, ClockVirtual}

// Enums names Scenario's fields that take one of a closed set of values.
func (Scenario) Enums() map[string][]string { return map[string][]string{"clock": Clocks} }
