package loadgen

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Shape scales a persona's rate over the run. The rate at elapsed time t is
// rate × Shape.At(t). Kinds:
//
//	{kind: constant}                                   # × 1 (the default)
//	{kind: ramp, from: 0.1, to: 1, over: 5m}           # linear, then holds `to`
//	{kind: step, steps: [{at: 0s, x: 1}, {at: 2m, x: 3}]}
//	{kind: daily, hours: [24 multipliers], day: 24m, start_hour: 8}
//
// A daily curve maps the run onto a business day: hour h of the day lasts
// day/24 of run time (day defaults to 24h, real time), starting at
// start_hour.
type Shape struct {
	Kind string `yaml:"kind" json:"kind,omitempty"`
	// From and To are the ramp's multipliers at 0 and at Over.
	From float64 `yaml:"from" json:"from,omitempty"`
	To   float64 `yaml:"to" json:"to,omitempty"`
	// Over is the ramp's length (default: the run's duration).
	Over Duration `yaml:"over" json:"over,omitempty"`
	// Steps are multipliers that apply from their time on (0 before the first).
	Steps []ShapeStep `yaml:"steps" json:"steps,omitempty"`
	// Hours are 24 hour-of-day multipliers for kind daily.
	Hours []float64 `yaml:"hours" json:"hours,omitempty"`
	// Day is how much run time one simulated day takes (default 24h).
	Day Duration `yaml:"day" json:"day,omitempty"`
	// StartHour is the hour of day at the start of the run (0–23.99).
	StartHour float64 `yaml:"start_hour" json:"start_hour,omitempty"`
}

// ShapeStep is one step of a step shape: from At on, the rate is multiplied by X.
type ShapeStep struct {
	At Duration `yaml:"at" json:"at"`
	X  float64  `yaml:"x" json:"x"`
}

// Shape kinds.
const (
	ShapeKindConstant = "constant"
	ShapeKindRamp     = "ramp"
	ShapeKindStep     = "step"
	ShapeKindDaily    = "daily"
)

// ShapeKinds lists the shape kinds.
var ShapeKinds = []string{ShapeKindConstant, ShapeKindRamp, ShapeKindStep, ShapeKindDaily}

// Enums names Shape's fields that take one of a closed set of values.
func (Shape) Enums() map[string][]string { return map[string][]string{"kind": ShapeKinds} }

// Validate checks s; run is the run's duration (for a ramp's default).
func (s Shape) Validate() error {
	switch s.Kind {
	case "", ShapeKindConstant:
	case ShapeKindRamp:
		if s.From < 0 || s.To < 0 || (s.From == 0 && s.To == 0) {
			return fmt.Errorf("ramp needs from, to >= 0 and not both 0, got from %g to %g", s.From, s.To)
		}
		if s.Over < 0 {
			return errors.New("over must be >= 0")
		}
	case ShapeKindStep:
		if len(s.Steps) == 0 {
			return errors.New("step needs steps")
		}
		for i, st := range s.Steps {
			if st.X < 0 || (i > 0 && st.At < s.Steps[i-1].At) {
				return fmt.Errorf("steps[%d]: need x >= 0 and times in increasing order", i)
			}
		}
	case ShapeKindDaily:
		if len(s.Hours) != 24 {
			return fmt.Errorf("daily needs 24 hour multipliers, got %d", len(s.Hours))
		}
		for h, x := range s.Hours {
			if x < 0 {
				return fmt.Errorf("hours[%d] must be >= 0, got %g", h, x)
			}
		}
		if s.Day < 0 || s.StartHour < 0 || s.StartHour >= 24 {
			return errors.New("need day >= 0 and 0 <= start_hour < 24")
		}
	default:
		return fmt.Errorf("unknown shape kind %q (want %s)", s.Kind, strings.Join(ShapeKinds, ", "))
	}
	if s.Peak() <= 0 {
		return errors.New("the shape never allows any load (every multiplier is 0)")
	}
	return nil
}

// At returns the rate multiplier at elapsed time t of a run lasting run.
func (s Shape) At(t, run time.Duration) float64 {
	switch s.Kind {
	case ShapeKindRamp:
		over := s.Over.D()
		if over <= 0 {
			over = run
		}
		if over <= 0 || t >= over {
			return s.To
		}
		return s.From + (s.To-s.From)*float64(t)/float64(over)
	case ShapeKindStep:
		x := 0.0
		for _, st := range s.Steps {
			if t >= st.At.D() {
				x = st.X
			}
		}
		return x
	case ShapeKindDaily:
		day := s.Day.D()
		if day <= 0 {
			day = 24 * time.Hour
		}
		h := s.StartHour + 24*float64(t)/float64(day)
		return s.Hours[int(h)%24]
	}
	return 1
}

// Peak returns the largest multiplier s can reach.
func (s Shape) Peak() float64 {
	switch s.Kind {
	case ShapeKindRamp:
		return max(s.From, s.To)
	case ShapeKindStep:
		p := 0.0
		for _, st := range s.Steps {
			p = max(p, st.X)
		}
		return p
	case ShapeKindDaily:
		p := 0.0
		for _, x := range s.Hours {
			p = max(p, x)
		}
		return p
	}
	return 1
}
