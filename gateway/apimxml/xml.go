package apimxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Pos is a place in a policy document, 1-based; Column counts bytes.
type Pos struct {
	Line, Column int
}

// attr is one attribute of an element, with where its name starts.
type attr struct {
	Name, Value string
	Pos
}

// element is one XML element of a policy document, with its position.
type element struct {
	Name     string
	Attrs    []attr
	Children []*element
	Text     string
	Pos
}

// attr returns the attribute called name.
func (e *element) attr(name string) (attr, bool) {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return attr{}, false
}

// parseXML reads a policy document into an element tree. Errors carry the
// position the decoder stopped at.
func parseXML(file string, src []byte) (*element, error) {
	d := xml.NewDecoder(bytes.NewReader(src))
	var root *element
	var stack []*element
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, col := d.InputPos()
			var se *xml.SyntaxError
			msg := err.Error()
			if errors.As(err, &se) {
				msg, line = se.Msg, se.Line
			}
			return nil, &Error{File: file, Pos: Pos{line, col}, Msg: "malformed XML: " + msg}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			start := int(off) + bytes.IndexByte(src[off:], '<')
			e := &element{Name: t.Name.Local, Pos: posAt(src, start)}
			tag := src[start:d.InputOffset()]
			for _, a := range t.Attr {
				e.Attrs = append(e.Attrs, attr{Name: a.Name.Local, Value: a.Value, Pos: posAt(src, start+attrOffset(tag, a.Name.Local))})
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, &Error{File: file, Pos: e.Pos, Msg: "a policy document has one root element, <policies>"}
				}
				root = e
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
			}
		}
	}
	if root == nil {
		return nil, &Error{File: file, Pos: Pos{1, 1}, Msg: "no <policies> element: not an API Management policy document"}
	}
	for _, e := range walk(root) {
		e.Text = strings.TrimSpace(e.Text)
	}
	return root, nil
}

// walk lists e and everything under it, in document order.
func walk(e *element) []*element {
	out := []*element{e}
	for _, c := range e.Children {
		out = append(out, walk(c)...)
	}
	return out
}

// attrOffset is where attribute name starts in a start tag (0 if not found).
func attrOffset(tag []byte, name string) int {
	re := regexp.MustCompile(`\s(` + regexp.QuoteMeta(name) + `)\s*=`)
	if m := re.FindSubmatchIndex(tag); m != nil {
		return m[2]
	}
	return 0
}

// posAt converts a byte offset of src into a line and column.
func posAt(src []byte, off int) Pos {
	before := src[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	return Pos{Line: line, Column: off - bytes.LastIndexByte(before, '\n')}
}

// Error is a problem in a policy document at file:line:column.
type Error struct {
	File string
	Pos
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Warning is an element of a policy document aiload does not enforce.
type Warning struct {
	File string
	Pos
	Msg string
}

func (w Warning) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", w.File, w.Line, w.Column, w.Msg)
}
