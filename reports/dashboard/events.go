package dashboard

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/aiload/aiload/record"
)

// recordEvent adds a 429 or an error to the events, newest first.
func (t *Tally) recordEvent(r *record.Record, at time.Time) {
	who := cmp.Or(r.SubscriptionID, r.ClientIP)
	switch r.Outcome {
	case record.OutcomeOK, record.OutcomeCacheHit:
		return
	case record.OutcomeThrottled:
		over := who
		if r.CounterKey != "" && r.CounterKey != r.SubscriptionID {
			over = who + " key " + r.CounterKey
		}
		text := fmt.Sprintf("429 %s over %s TPM", over, count(r.LimitTPM))
		if r.RetryAfterMS > 0 {
			text += fmt.Sprintf(", retry after %ds", r.RetryAfterMS/1000)
		}
		t.event(Event{At: at, Kind: EventThrottled, Who: over, Text: text})
	case record.OutcomeCircuitOpen:
		t.event(Event{At: at, Kind: EventBreaker, Who: who, Text: fmt.Sprintf("%d %s: every backend's breaker is open", r.Status, who)})
	default:
		text := fmt.Sprintf("%d %s %s", r.Status, r.Outcome, who)
		if r.Backend != "" {
			text += " via " + r.Backend
		}
		t.event(Event{At: at, Kind: EventError, Who: who, Text: text})
	}
}

// event adds e, merging it into an event of the same kind and subject in
// the same second.
func (t *Tally) event(e Event) {
	e.Count = max(e.Count, 1)
	evs := t.events[e.Kind]
	for i := len(evs) - 1; i >= 0 && evs[i].At.Unix() == e.At.Unix(); i-- {
		if evs[i].Who == e.Who {
			evs[i].Count += e.Count
			evs[i].Text = e.Text
			if e.At.After(evs[i].At) {
				evs[i].At = e.At
			}
			return
		}
	}
	evs = append(evs, e)
	if len(evs) > maxEvents {
		evs = slices.Delete(evs, 0, len(evs)-maxEvents)
	}
	t.events[e.Kind] = evs
}

// newestEvents merges the kinds' events, newest first.
func (t *Tally) newestEvents() []Event {
	var all []Event
	for _, evs := range t.events {
		all = append(all, evs...)
	}
	slices.SortStableFunc(all, func(a, b Event) int {
		return cmp.Or(b.At.Compare(a.At), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Who, b.Who))
	})
	return all
}
