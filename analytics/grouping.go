package analytics

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Grouping is the column a bill is split by: a cost centre. The zero value
// is the team.
type Grouping struct {
	// Name is the column as users name it and as reports head it: "team",
	// "subscription", "product", "user", a subscription metadata key
	// ("cost_center") or "dims.<name>".
	Name string
	// column is team, subscription, product, user or dims; dim is the
	// dims key of a dims column ("sub.cost_center", "region").
	column, dim string
}

// ErrNoSuchGrouping is wrapped by the errors of a grouping that names a
// metadata key or dimension no record in the period carries.
var ErrNoSuchGrouping = errors.New("not recorded")

// metadataKey is what a subscription metadata key may look like.
var metadataKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// ParseGrouping reads the column a bill is split by: team (the default,
// also for ""), subscription, product, user, dims.<name> (a custom
// dimension of the record, as llm-emit-token-metric emits it) or any
// other name, read as a key of the subscriptions' metadata, which the
// gateway records as the dimension "sub.<key>".
func ParseGrouping(s string) (Grouping, error) {
	switch s {
	case "", string(ByTeam):
		return Grouping{Name: string(ByTeam), column: string(ByTeam)}, nil
	case string(BySubscription), string(ByProduct), "user":
		return Grouping{Name: s, column: s}, nil
	}
	if name, ok := strings.CutPrefix(s, "dims."); ok {
		if name == "" {
			return Grouping{}, fmt.Errorf("grouping %q: want dims.<name>", s)
		}
		return Grouping{Name: s, column: "dims", dim: name}, nil
	}
	if !metadataKey.MatchString(s) {
		return Grouping{}, fmt.Errorf("unknown grouping %q (want team, subscription, product, user, a subscription metadata key or dims.<name>)", s)
	}
	return Grouping{Name: s, column: "dims", dim: "sub." + s}, nil
}

// orTeam is g, or the team grouping for the zero value.
func (g Grouping) orTeam() Grouping {
	if g.column == "" {
		g, _ = ParseGrouping("")
	}
	return g
}

// IsTeam reports whether g splits by team (the zero value does).
func (g Grouping) IsTeam() bool { return g.orTeam().column == string(ByTeam) }

// None names the group of records without a value: "(no team)",
// "(no cost_center)".
func (g Grouping) None() string { return "(no " + g.orTeam().Name + ")" }

// sqlArgs are the group_key macro's first two arguments.
func (g Grouping) sqlArgs() (column, dim string) {
	g = g.orTeam()
	return g.column, g.dim
}

// checkGrouping fails with ErrNoSuchGrouping when g reads a dimension no
// record answered ok in [p.Start, p.End) carries, naming the dimensions
// the records do carry.
func checkGrouping(ctx context.Context, db *DB, g Grouping, p Period) error {
	column, dim := g.sqlArgs()
	if column != "dims" {
		return nil
	}
	var keys []string
	rows, err := db.db.QueryContext(ctx, query("grouping_keys.sql"), p.Start, p.End)
	if err != nil {
		return fmt.Errorf("grouping keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return fmt.Errorf("grouping keys: %w", err)
		}
		if k == dim {
			return nil
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("grouping keys: %w", err)
	}
	what := "dimension " + dim
	if m, ok := strings.CutPrefix(dim, "sub."); ok && !strings.HasPrefix(g.Name, "dims.") {
		what = "subscription metadata " + m + " (dimension " + dim + ")"
	}
	seen := "none"
	if len(keys) > 0 {
		seen = strings.Join(keys, ", ")
	}
	return fmt.Errorf("grouping %s: %w: no request answered ok in the period carries %s; dimensions recorded: %s",
		g.Name, ErrNoSuchGrouping, what, seen)
}
