package analytics

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// consumerSet is the consumers of a recommendation and their shared range
// of Unix minutes [lo, hi].
type consumerSet struct {
	consumers []ConsumerRecommendation
	events    []int64        // demand events per consumer, to size the slices they are read into
	index     map[uint64]int // key hash → index in consumers
	lo, hi    int64
}

func consumerKeys(ctx context.Context, db *DB, opts RecommendOptions) (*consumerSet, error) {
	rows, err := db.db.QueryContext(ctx, query("consumer_keys.sql"),
		string(opts.By), opts.Model, nullTime(opts.From), nullTime(opts.To))
	if err != nil {
		return nil, fmt.Errorf("recommend: consumers: %w", err)
	}
	defer rows.Close()
	set := &consumerSet{index: map[uint64]int{}}
	for rows.Next() {
		var c ConsumerRecommendation
		var h uint64
		var n int64
		if err := rows.Scan(&c.Key, &h, &c.Team, &c.Product, &c.CurrentLimitTPM, &n, &set.lo, &set.hi); err != nil {
			return nil, fmt.Errorf("recommend: consumers: %w", err)
		}
		if _, dup := set.index[h]; dup {
			return nil, fmt.Errorf("recommend: two consumer keys share the hash %x", h)
		}
		set.index[h] = len(set.consumers)
		set.consumers = append(set.consumers, c)
		set.events = append(set.events, n)
	}
	return set, rows.Err()
}

// loadEvents reads every consumer's demand events in table order. Reading
// ten million rows through database/sql (a conversion by reflection per
// value) took longer than replaying them, so the table is read in one
// rowid range per core, each on its own connection straight from the
// driver's rows, and the parts are joined in order.
func loadEvents(ctx context.Context, db *DB, opts RecommendOptions, keys *consumerSet, callers *callerTable) ([][]event, error) {
	var end int64
	if err := db.db.QueryRowContext(ctx, `SELECT coalesce(max(rowid) + 1, 0) FROM records`).Scan(&end); err != nil {
		return nil, fmt.Errorf("recommend: events: %w", err)
	}
	parts := int(max(1, min(int64(runtime.GOMAXPROCS(0)), end)))
	got := make([][][]event, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() {
			from, to := end*int64(p)/int64(parts), end*int64(p+1)/int64(parts)
			got[p], errs[p] = loadEventRange(ctx, db, opts, keys, callers, from, to, end)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("recommend: events: %w", err)
	}
	out := got[0]
	for _, part := range got[1:] {
		for i := range out {
			out[i] = append(out[i], part[i]...)
		}
	}
	return out, nil
}

// loadEventRange reads the demand events of rows with rowid in [from, to)
// of [0, end). The first part's slices are made large enough for all of a
// consumer's events, so the later parts are appended to them without
// copying twice; the later parts' slices are sized by their share of rows.
func loadEventRange(ctx context.Context, db *DB, opts RecommendOptions, keys *consumerSet, callers *callerTable, from, to, end int64) ([][]event, error) {
	out := make([][]event, len(keys.consumers))
	for i, n := range keys.events {
		if from > 0 {
			n = n*(to-from)/end + n/8
		}
		out[i] = make([]event, 0, n)
	}
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	args := []driver.NamedValue{
		{Ordinal: 1, Value: string(opts.By)}, {Ordinal: 2, Value: opts.Model},
		{Ordinal: 3, Value: nullTime(opts.From)}, {Ordinal: 4, Value: nullTime(opts.To)},
		{Ordinal: 5, Value: from}, {Ordinal: 6, Value: to},
	}
	err = conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		rows, err := qc.QueryContext(ctx, strings.Replace(query("replay_events.sql"), "/*callers*/", callers.sqlIndex(), -1), args)
		if err != nil {
			return err
		}
		defer rows.Close()
		row := make([]driver.Value, 4)
		for {
			if err := rows.Next(row); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			h, ok1 := row[0].(uint64)
			at, ok2 := row[1].(int64)
			tp, ok3 := row[2].(int64)
			lfc, ok4 := row[3].(int64)
			if !ok1 || !ok2 || !ok3 || !ok4 {
				return fmt.Errorf("unexpected row types %T, %T, %T, %T", row[0], row[1], row[2], row[3])
			}
			i, ok := keys.index[h]
			if !ok {
				return fmt.Errorf("unknown consumer hash %x", h)
			}
			out[i] = append(out[i], unpackEvent(at, tp, lfc))
		}
	})
	return out, err
}

// fillRefusedLatency gives requests the records show refused by a token
// limit (whose latency is the 429's, not an answer's) the median latency
// of the consumer's answered requests (of at most 4,095 of them, evenly
// spaced in time), for when the replay serves them.
func fillRefusedLatency(ev []event) {
	answered := 0
	for _, e := range ev {
		if e.flags&evRefused == 0 {
			answered++
		}
	}
	if answered == len(ev) || answered == 0 {
		return
	}
	step := answered/4095 + 1
	lats := make([]int32, 0, answered/step+1)
	k := 0
	for _, e := range ev {
		if e.flags&evRefused == 0 {
			if k%step == 0 {
				lats = append(lats, e.latUS)
			}
			k++
		}
	}
	slices.Sort(lats)
	med := lats[len(lats)/2]
	for i := range ev {
		if ev[i].flags&evRefused != 0 {
			ev[i].latUS = med
		}
	}
}
