package loadgen

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// TestBatchJobsOnSchedule runs a 30-request job with 3 workers at 0 s and
// every second: three jobs start within 2.5 s, each sends its requests
// with prompts drawn from the job's distribution, and a job still running
// when the run ends is counted as cut, not completed.
func TestBatchJobsOnSchedule(t *testing.T) {
	t.Parallel()
	srv := &scripted{}
	url := start(t, srv)
	p := persona(KindBatch, func(p *Persona) {
		p.Rate, p.Requests, p.Concurrency, p.Every = 0, 30, 3, Duration(time.Second)
		p.PromptTokens = Dist{Kind: DistUniform, Min: 200, Max: 400}
	})
	res := run(t, url, 2500*time.Millisecond, p)
	s := res.Personas[0]
	j := s.Jobs
	if j.Started != 3 || j.Completed < 2 || j.Completed+j.Unfinished != 3 || j.Failed != 0 {
		t.Fatalf("jobs %+v; want 3 started, at least the first 2 completed, the last completed or cut", *j)
	}
	if s.OK != s.Requests || s.Requests < 60 || (j.Completed == 3 && s.Requests != 90) {
		t.Fatalf("%d requests, %d ok for jobs %+v; want 30 per completed job, all ok", s.Requests, s.OK, *j)
	}
	for _, r := range srv.requests() {
		if n := len(strings.Fields(r.messages[1].Content)); n < 200 || n > 400 {
			t.Fatalf("batch prompt of %d words, want 200–400", n)
		}
	}
}

// TestBatchAtRate sends a job at a target rate, open loop, starting at `at`.
func TestBatchAtRate(t *testing.T) {
	t.Parallel()
	srv := &scripted{}
	url := start(t, srv)
	p := persona(KindBatch, func(p *Persona) {
		p.Rate, p.Requests, p.Concurrency, p.At = 100, 50, 0, Duration(500*time.Millisecond)
	})
	begin := time.Now()
	res := run(t, url, 2*time.Second, p)
	reqs := srv.requests()
	if len(reqs) != 50 || res.Personas[0].Jobs.Completed != 1 {
		t.Fatalf("%d requests, jobs %+v; want one job of 50", len(reqs), *res.Personas[0].Jobs)
	}
	firstAt := reqs[0].at.Sub(begin)
	span := reqs[len(reqs)-1].at.Sub(reqs[0].at)
	if firstAt < 500*time.Millisecond || span < 400*time.Millisecond {
		t.Fatalf("first request after %v, job spanned %v; want from 500 ms on over ~490 ms at 100/s", firstAt, span)
	}
}

// TestNATUsersShareEgressAddresses puts 12 users behind 3 egress IPs: the
// server sees exactly the source addresses 127.0.0.2–4, each used by 4
// users, and every user keeps one address and sends its own user id.
func TestNATUsersShareEgressAddresses(t *testing.T) {
	t.Parallel()
	srv := &scripted{}
	url := start(t, srv)
	p := persona(KindNAT, func(p *Persona) { p.Count, p.Rate, p.EgressIPs, p.UserHeader = 12, 5, 3, "x-user-id" })
	run(t, url, 1500*time.Millisecond, p)
	usersByIP := map[string]map[string]bool{}
	ipOfUser := map[string]string{}
	for _, r := range srv.requests() {
		u := r.headers.Get("x-user-id")
		if prev, ok := ipOfUser[u]; ok && prev != r.remoteIP {
			t.Fatalf("user %s came from %s and %s", u, prev, r.remoteIP)
		}
		ipOfUser[u] = r.remoteIP
		if usersByIP[r.remoteIP] == nil {
			usersByIP[r.remoteIP] = map[string]bool{}
		}
		usersByIP[r.remoteIP][u] = true
	}
	var ips []string
	for ip, users := range usersByIP {
		ips = append(ips, ip)
		if len(users) != 4 {
			t.Errorf("%s carried %d users, want 4", ip, len(users))
		}
	}
	slices.Sort(ips)
	if !slices.Equal(ips, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
		t.Fatalf("source addresses %v, want 127.0.0.2–4", ips)
	}
}

// TestSnapshotsAndHistogramLog checks the snapshot stream (about one a
// second, then a final one that matches the result) and that the .hlog
// is read back by HdrHistogram's own log reader with one tag per persona.
func TestSnapshotsAndHistogramLog(t *testing.T) {
	t.Parallel()
	srv := &scripted{}
	url := start(t, srv)
	a := persona(KindChat, func(p *Persona) { p.Name, p.Rate, p.Count = "a", 20, 2 })
	b := persona(KindChat, func(p *Persona) { p.Name, p.Rate = "b", 10 })
	snaps := make(chan Snapshot, 16)
	var hlog bytes.Buffer
	res, err := runOpts(Options{Scenario: "s", Duration: 2500 * time.Millisecond, Seed: 1, Model: "m",
		Target: Target{URL: url}, Personas: []Persona{a, b}, Snapshots: snaps, HistogramLog: &hlog})
	if err != nil {
		t.Fatal(err)
	}
	close(snaps)
	var all []Snapshot
	for s := range snaps {
		all = append(all, s)
	}
	if len(all) < 3 || !all[len(all)-1].Final {
		t.Fatalf("%d snapshots (last final: %v); want ≥ 3 and a final one", len(all), len(all) > 0 && all[len(all)-1].Final)
	}
	last := all[len(all)-1]
	if last.Total.OK != res.Totals().OK || len(last.Intervals) != 2 || last.Personas[1].Name != "b" {
		t.Fatalf("final snapshot total ok %d, result %d; intervals %d", last.Total.OK, res.Totals().OK, len(last.Intervals))
	}
	var sent float64
	for _, s := range all[:len(all)-1] {
		sent += s.Intervals[0].SentPerSec * s.Intervals[0].Seconds
	}
	if last := all[len(all)-2]; int64(sent+0.5) != last.Personas[0].Sent {
		t.Errorf("interval rates of persona a add up to %.1f attempts, the cumulative count says %d", sent, last.Personas[0].Sent)
	}
	r := hdrhistogram.NewHistogramLogReader(&hlog)
	counts := map[string]int64{}
	for {
		h, err := r.NextIntervalHistogram()
		if err == io.EOF || h == nil {
			break
		}
		if err != nil {
			t.Fatalf("read .hlog: %v", err)
		}
		counts[h.Tag()] += h.TotalCount()
	}
	if counts["a"] != res.Personas[0].Responses || counts["b"] != res.Personas[1].Responses {
		t.Fatalf(".hlog counts %v; want a=%d b=%d", counts, res.Personas[0].Responses, res.Personas[1].Responses)
	}
}
