package scenario

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// Setting is one --set assignment: a dotted path into the scenario file
// and the YAML value to put there.
type Setting struct {
	Path  string
	Value string
}

func (s Setting) String() string { return s.Path + "=" + s.Value }

// ParseSet reads one --set flag, "path=v1,v2,…", into its settings, one
// per value. Paths are dotted keys of the scenario file; a segment that
// meets a list picks the item whose name is the segment (personas.batch,
// gateway.backends.ptu-eastus, gateway.products.standard) or, when it is a
// number, the item at that index (personas.0).
func ParseSet(flag string) ([]Setting, error) {
	path, vals, ok := strings.Cut(flag, "=")
	path = strings.TrimSpace(path)
	if !ok || path == "" || vals == "" {
		return nil, fmt.Errorf("--set %q: want path=value[,value…]", flag)
	}
	var out []Setting
	for _, v := range strings.Split(vals, ",") {
		out = append(out, Setting{Path: path, Value: strings.TrimSpace(v)})
	}
	return out, nil
}

// SettingError is a --set path that does not fit the scenario file.
type SettingError struct {
	Setting Setting
	Err     error
}

func (e *SettingError) Error() string { return fmt.Sprintf("--set %s: %v", e.Setting, e.Err) }
func (e *SettingError) Unwrap() error { return e.Err }

// ApplySettings returns the scenario source src with every setting applied,
// as YAML to Parse: what `aiload sweep --set` runs each variant of.
func ApplySettings(src []byte, sets []Setting) ([]byte, error) {
	if len(sets) == 0 {
		return src, nil
	}
	var doc any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	for _, s := range sets {
		var v any
		if err := yaml.Unmarshal([]byte(s.Value), &v); err != nil {
			return nil, fmt.Errorf("--set %s: value: %w", s, err)
		}
		if err := setPath(doc, strings.Split(s.Path, "."), v); err != nil {
			return nil, &SettingError{Setting: s, Err: err}
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("write scenario: %w", err)
	}
	return out, nil
}

// setPath puts v at path under node, creating missing mapping keys.
func setPath(node any, path []string, v any) error {
	seg := path[0]
	switch n := node.(type) {
	case map[string]any:
		if len(path) == 1 {
			n[seg] = v
			return nil
		}
		child, ok := n[seg]
		if !ok || child == nil {
			child = map[string]any{}
			n[seg] = child
		}
		return setPath(child, path[1:], v)
	case []any:
		i, err := listIndex(n, seg)
		if err != nil {
			return err
		}
		if len(path) == 1 {
			n[i] = v
			return nil
		}
		return setPath(n[i], path[1:], v)
	case string:
		return fmt.Errorf("%s: the value here is %q (an included file?), not a mapping", seg, n)
	default:
		return fmt.Errorf("%s: no mapping or list here", seg)
	}
}

// listIndex finds the list item named seg, or at index seg.
func listIndex(list []any, seg string) (int, error) {
	var names []string
	for i, item := range list {
		if m, ok := item.(map[string]any); ok {
			name := fmt.Sprint(m["name"])
			if name == seg {
				return i, nil
			}
			names = append(names, name)
		}
	}
	if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(list) {
		return i, nil
	}
	return 0, fmt.Errorf("no list item named %q (have %s)", seg, strings.Join(names, ", "))
}
