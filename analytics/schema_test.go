package analytics

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aiload/aiload/record"
)

// Every field of the token-metric record is a column of records (and of
// the JSONL reader's schema), so a field added to record.Record without a
// column here fails this test instead of being dropped at ingest.
func TestRecordsTableMatchesRecord(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	cols, err := db.recordColumns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, c := range cols {
		have = append(have, c.name)
	}
	reader := query("ingest_jsonl.sql")
	rt := reflect.TypeFor[record.Record]()
	var want []string
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		want = append(want, name)
		if !strings.Contains(reader, " "+name+": '") {
			t.Errorf("ingest_jsonl.sql does not read field %q", name)
		}
	}
	if !slices.Equal(have, want) {
		t.Errorf("records columns:\n got %v\nwant %v (record.Record's fields, in order)", have, want)
	}
}
