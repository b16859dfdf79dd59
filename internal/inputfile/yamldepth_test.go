package inputfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTooDeep: the pre-scan counts block levels, "- " entries and flow
// brackets, and not brackets or quotes inside quoted text or comments.
func TestTooDeep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  string
		max  int
		want int // line of the excess, 0 for none
	}{
		// 5 flow levels under a key: within 6, over 5.
		{"flow within", "x-a: [[[[1]]]]\n", 5, 0},
		{"flow over", "x-a: [[[[{a: 1}]]]]\n", 5, 1},
		{"flow over several lines", "x-a: [\n [\n  [\n   [\n    [1]]]]]\n", 5, 5},
		// Block mappings nest by indentation.
		{"block", "a:\n b:\n  c:\n   d:\n    e: 1\n", 4, 5},
		{"block back out", "a:\n b:\n  c: 1\nd:\n e:\n  f: 1\n", 3, 0},
		// Each "- " opens a sequence level.
		{"dashes", "x-a:\n- - - - - 1\n", 5, 2},
		// Brackets in quotes, comments, plain text: no levels.
		{"quoted", "a: '[[[[[[[['\nb: \"{{{{{{{{\\\"[[[[\"\nc: x[[[[[[[[ # [[[[[[[[\n", 3, 0},
		{"quote in plain text", "a: it's [[[[[[\nb: [1]\n", 3, 0},
		{"multi-line quote", "a: 'x\n  [[[[[[[[\n  y'\nb: [1]\n", 3, 0},
		// A tag or anchor before a flow collection.
		{"anchor", "x-a: &a [[[[1]]]]\n", 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line, _, deep := TooDeep([]byte(tc.src), tc.max)
			if deep != (tc.want > 0) || line != tc.want {
				t.Fatalf("TooDeep(%q, %d): line %d deep %v, want line %d", tc.src, tc.max, line, deep, tc.want)
			}
		})
	}
}

// TestReadConfigGuards: a device, a directory, an oversized file and deep
// nesting are refused before any YAML is parsed; a plain file is read.
func TestReadConfigGuards(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, src []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, src, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "pipe")
	if err := mkfifo(fifo); err != nil {
		fifo = "/dev/null" // a device too
	}
	for _, tc := range []struct {
		path string
		want string
	}{
		{"/dev/zero", "read /dev/zero: not a regular file (a device)"},
		{dir, "not a regular file (a directory)"},
		// opening a named pipe would block until a writer comes
		{fifo, "not a regular file (a "},
		{write("big.yaml", bytes.Repeat([]byte("# padding\n"), MaxConfigBytes/10+1)), "larger than the limit of 1 MiB"},
		{write("deep.yaml", []byte("a: "+strings.Repeat("[", 100)+strings.Repeat("]", 100)+"\n")), "deep.yaml:1:67: nested more than 64 levels deep"},
	} {
		if _, err := ReadConfig(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadConfig(%s): got %v, want %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	ok := write("ok.yaml", []byte("a: [1, 2]\n"))
	if src, err := ReadConfig(ok); err != nil || string(src) != "a: [1, 2]\n" {
		t.Errorf("ReadConfig(ok.yaml): %q, %v", src, err)
	}
}
