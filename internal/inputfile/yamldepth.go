package inputfile

// TooDeep scans YAML src for nesting deeper than max without parsing it: flow
// brackets outside quotes and comments, block indentation levels, and the
// "- " and "? " entries that open a level on one line. It over-counts
// rather than under-counts (brackets in block-scalar text), and returns
// the 1-based line and column where max is first exceeded.
func TooDeep(src []byte, max int) (line, col int, deep bool) {
	s := prescan{max: max}
	for i, n := 0, len(src); i < n; {
		end := i
		for end < n && src[end] != '\n' {
			end++
		}
		s.line++
		if c, deep := s.scanLine(src[i:end]); deep {
			return s.line, c, true
		}
		i = end + 1
	}
	return 0, 0, false
}

type prescan struct {
	max    int
	line   int
	flow   int   // open flow collections
	quote  byte  // the quote of a quoted scalar still open, or 0
	indent []int // indentation of the open block levels
}

// scanLine scans one line; it returns the column where the depth exceeds max.
func (s *prescan) scanLine(b []byte) (int, bool) {
	i := 0
	if s.quote == 0 && s.flow == 0 {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i == len(b) || b[i] == '#' {
			return 0, false // blank or comment: no level
		}
		for len(s.indent) > 0 && s.indent[len(s.indent)-1] >= i {
			s.indent = s.indent[:len(s.indent)-1]
		}
		s.indent = append(s.indent, i)
		// "- - - x" and "? ? x" open a level per indicator
		for i+1 < len(b) && (b[i] == '-' || b[i] == '?') && b[i+1] == ' ' {
			i += 2
			for i < len(b) && b[i] == ' ' {
				i++
			}
			s.indent = append(s.indent, i)
			if s.depth() > s.max {
				return i + 1, true
			}
		}
		if s.depth() > s.max {
			return i + 1, true
		}
	}
	valueStart := s.quote == 0 // at the start of a line or after an indicator
	for ; i < len(b); i++ {
		c := b[i]
		if s.quote != 0 {
			switch {
			case s.quote == '"' && c == '\\':
				i++
			case c == s.quote && s.quote == '\'' && i+1 < len(b) && b[i+1] == '\'':
				i++ // '' inside single quotes
			case c == s.quote:
				s.quote = 0
			}
			continue
		}
		switch {
		case c == ' ' || c == '\t':
			continue
		case c == '#' && (i == 0 || b[i-1] == ' ' || b[i-1] == '\t'):
			return 0, false
		case (c == '"' || c == '\'') && valueStart:
			s.quote = c
		case (c == '[' || c == '{') && (valueStart || s.flow > 0):
			s.flow++
			if s.depth() > s.max {
				return i + 1, true
			}
			valueStart = true
			continue
		case (c == ']' || c == '}') && s.flow > 0:
			s.flow--
		case c == ',' && s.flow > 0:
			valueStart = true
			continue
		case (c == ':' || c == '-' || c == '?') && (i+1 == len(b) || b[i+1] == ' ' || s.flow > 0 && c == ':'):
			valueStart = true
			continue
		case (c == '!' || c == '&') && valueStart:
			for i+1 < len(b) && b[i+1] != ' ' {
				i++ // a tag or anchor: the value follows it
			}
			continue
		}
		valueStart = false
	}
	return 0, false
}

func (s *prescan) depth() int { return len(s.indent) + s.flow }
