package analytics

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// insertJSONL inserts the aiload JSONL file at src (see ingest_jsonl.sql).
// A file of splitIngestMinBytes up to largeIngestBytes going into a
// database file is read as two halves on two threads (see memory.go). The
// halves' rows are inserted in an order of their own (DuckDB numbers each
// thread's buffers as it reads them), so when a request id repeats within
// the file, or the halves fail for any other reason, the file is read
// whole on one thread instead: the first record of a repeated id is kept,
// and an error (and the line it names) is the file's. A database whose
// analyses are capped (LimitMemory, as after a run) keeps to one thread:
// inside a whole run of a day the halves took the process to 278–335 MB.
func (d *DB) insertJSONL(ctx context.Context, src string) (int64, error) {
	if d.path != "" && d.memoryLimit == "" {
		if dir, ok := splitHalves(src, d.path); ok {
			added, err := d.insertHalves(ctx, dir)
			os.RemoveAll(dir)
			if err == nil {
				return added, nil
			}
			if ctx.Err() != nil {
				return 0, err
			}
		}
	}
	return d.insertDeduped(ctx, query("ingest_jsonl.sql"), src)
}

// insertHalves inserts the halves splitHalves wrote into dir, on two
// threads under splitIngestMemoryLimit, and sets Ingest's bounds for one
// file back.
func (d *DB) insertHalves(ctx context.Context, dir string) (int64, error) {
	if err := d.setIngestBounds(ctx, splitIngestMemoryLimit, splitIngestThreads); err != nil {
		return 0, err
	}
	added, err := d.insertNew(ctx, true, query("ingest_jsonl.sql"), filepath.Join(dir, "part-*.jsonl"))
	if berr := d.setIngestBounds(context.WithoutCancel(ctx), ingestMemoryLimit, ingestThreads); err == nil {
		err = berr
	}
	return added, err
}

// splitHalves copies the JSONL file at path, when it is uncompressed and of
// splitIngestMinBytes up to largeIngestBytes, as two files part-0.jsonl and
// part-1.jsonl (in that order its lines), cut after the first newline from
// the middle on, into a new folder beside the database file dbPath (on its
// disk, as DuckDB's own spill folder; a temporary folder in memory would
// hold the copy in RAM). ok is false, and nothing is left behind, when the
// file is not split.
func splitHalves(path, dbPath string) (dir string, ok bool) {
	if strings.HasSuffix(path, ".gz") {
		return "", false
	}
	in, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil || st.Size() < splitIngestMinBytes || st.Size() > largeIngestBytes {
		return "", false
	}
	cut, ok := lineAfter(in, st.Size()/2)
	if !ok {
		return "", false
	}
	dir, err = os.MkdirTemp(filepath.Dir(dbPath), filepath.Base(dbPath)+".ingest-*")
	if err != nil {
		return "", false
	}
	if copyRange(in, 0, cut, filepath.Join(dir, "part-0.jsonl")) != nil ||
		copyRange(in, cut, st.Size()-cut, filepath.Join(dir, "part-1.jsonl")) != nil {
		os.RemoveAll(dir)
		return "", false
	}
	return dir, true
}

// lineAfter returns the offset just past the first newline at or after off
// in f, within 16 MiB (maxLine); ok is false when there is none there.
func lineAfter(f *os.File, off int64) (cut int64, ok bool) {
	buf := make([]byte, 64<<10)
	for start := off; start < off+maxLine; start += int64(len(buf)) {
		n, err := f.ReadAt(buf, start)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1, true
		}
		if err != nil {
			return 0, false
		}
	}
	return 0, false
}

// copyRange writes n bytes of in from off to a new file at path (copied
// by the kernel where it can).
func copyRange(in *os.File, off, n int64, path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := in.Seek(off, io.SeekStart); err != nil {
		out.Close()
		return err
	}
	if _, err := io.CopyN(out, in, n); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
