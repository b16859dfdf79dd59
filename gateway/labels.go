package gateway

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// otherLabel is the value a guarded label takes once it has as many
// distinct values as it may keep.
const otherLabel = "other"

// defaultMaxLabelValues is MetricsConfig.MaxLabelValues when unset.
const defaultMaxLabelValues = 100

// labelGuard caps the distinct values of one label: the first max values
// seen keep series of their own, later ones fold into "other" (a value
// that is "other" itself shares that series) and each folded observation
// is counted. Not safe for concurrent use: metrics holds its lock.
type labelGuard struct {
	max    int
	seen   map[string]struct{}
	folded prometheus.Counter
}

func newLabelGuard(max int, folded *prometheus.CounterVec, label string) *labelGuard {
	return &labelGuard{max: max, seen: map[string]struct{}{}, folded: folded.WithLabelValues(label)}
}

// value is v, or "other" once the label has max other values.
func (l *labelGuard) value(v string) string {
	if _, ok := l.seen[v]; ok {
		return v
	}
	if len(l.seen) < l.max {
		l.seen[v] = struct{}{}
		return v
	}
	l.folded.Inc()
	return otherLabel
}

// fixedLabels are the labels of the token and request counters that
// dimension labels must not take.
var fixedLabels = map[string]bool{
	"subscription": true, "product": true, "team": true, "backend": true,
	"status": true, "outcome": true, "type": true,
}

// dimensionLabels turns llm-emit-token-metric dimension names into
// Prometheus label names: lower case, anything but letters, digits and
// underscores as one underscore ("Subscription ID" → subscription_id). A
// name that would clash with a fixed label or an earlier dimension gets
// the prefix dim_ (and a number if it still clashes).
func dimensionLabels(names []string) []string {
	out := make([]string, len(names))
	taken := map[string]bool{}
	for i, n := range names {
		l := labelName(n)
		if fixedLabels[l] || taken[l] {
			l = "dim_" + l
		}
		for k := 2; fixedLabels[l] || taken[l]; k++ {
			l = "dim_" + labelName(n) + "_" + strconv.Itoa(k)
		}
		taken[l] = true
		out[i] = l
	}
	return out
}

func labelName(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	l := strings.TrimRight(b.String(), "_")
	if l == "" || l[0] >= '0' && l[0] <= '9' {
		l = "dim_" + l
	}
	return l
}
