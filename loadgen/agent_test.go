package loadgen

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// throttleEvery answers 429 (Retry-After: 1) to every n-th request that
// is a first attempt.
func throttleEvery(n int64) func(int64, seen) (int, string) {
	return func(i int64, s seen) (int, string) {
		if i%n == 0 && s.headers.Get(HeaderAttempt) == "1" {
			return http.StatusTooManyRequests, "1"
		}
		return http.StatusOK, ""
	}
}

func agentPersona(policy string, mod func(p *Persona)) Persona {
	return persona(KindAgent, func(p *Persona) {
		p.Name = "agent-" + policy
		p.Count, p.Rate, p.Arrival = 2, 2, ArrivalConstant
		p.OnThrottle = policy
		p.Steps = []Step{{Name: "plan"}, {Name: "tool", Repeat: 2}, {Name: "answer", CompletionTokens: Dist{Kind: DistFixed, Value: 40}}}
		if mod != nil {
			mod(p)
		}
	})
}

// TestAgentOnThrottle runs the same agents against a target that throttles
// every 5th first attempt: with fail the pipeline hit by a 429 breaks; with
// retry_after it waits the Retry-After and completes, and the wait shows
// as extra wall time; degrade completes with a cheaper request; backoff
// retries without reading Retry-After.
func TestAgentOnThrottle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy     string
		wantBroken bool
	}{
		{ThrottleFail, true},        // breaks at the first 429
		{ThrottleRetryAfter, false}, // waits and completes
		{ThrottleDegrade, false},    // retries cheaper and completes
		{ThrottleBackoff, false},    // retries after jittered backoff
	} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			srv := &scripted{answer: throttleEvery(5)}
			url := start(t, srv)
			p := agentPersona(tc.policy, func(p *Persona) {
				p.Backoff = Backoff{Initial: Duration(200 * time.Millisecond), Max: Duration(time.Second)}
			})
			res := run(t, url, 2*time.Second, p)
			s := res.Personas[0]
			ps := s.Pipelines
			if s.Throttled == 0 {
				t.Fatalf("no 429 seen; the target throttles every 5th request")
			}
			if ps.Started != ps.Completed+ps.Broken+ps.Unfinished || ps.Started < 7 {
				t.Fatalf("pipelines %+v: want ≥ 7 started, each completed, broken or unfinished", ps)
			}
			if tc.wantBroken {
				if ps.Broken == 0 || s.Retries != 0 {
					t.Fatalf("fail: %d broken, %d retries; want broken pipelines and no retries", ps.Broken, s.Retries)
				}
				var at int64
				for _, n := range ps.BrokenAt {
					at += n
				}
				if at != ps.Broken {
					t.Fatalf("broken at %v, %d broken", ps.BrokenAt, ps.Broken)
				}
				return
			}
			if ps.Broken != 0 || ps.Completed == 0 || s.Retries == 0 {
				t.Fatalf("%s: pipelines %+v, %d retries; want none broken", tc.policy, ps, s.Retries)
			}
			if ps.ThrottleDelaySeconds <= 0 || s.RetryWaitSeconds <= 0 {
				t.Fatalf("%s: throttle delay %.2fs, retry wait %.2fs; want both > 0", tc.policy, ps.ThrottleDelaySeconds, s.RetryWaitSeconds)
			}
			if tc.policy == ThrottleDegrade && (ps.Degraded == 0 || s.Degraded == 0) {
				t.Fatalf("degrade: %d degraded pipelines, %d degraded requests", ps.Degraded, s.Degraded)
			}
		})
	}
}

// TestDegradeSendsCheaperRetry checks the retry after a 429 carries only
// the system and last message and half the max_tokens.
func TestDegradeSendsCheaperRetry(t *testing.T) {
	t.Parallel()
	srv := &scripted{answer: func(_ int64, s seen) (int, string) {
		if len(s.messages) >= 4 && s.headers.Get(HeaderAttempt) == "1" {
			return http.StatusTooManyRequests, "0"
		}
		return http.StatusOK, ""
	}}
	url := start(t, srv)
	p := agentPersona(ThrottleDegrade, func(p *Persona) { p.Count, p.Rate = 1, 1 })
	run(t, url, 1500*time.Millisecond, p)
	var first, retry *seen
	for i, s := range srv.requests() {
		if len(s.messages) >= 4 && first == nil && s.headers.Get(HeaderAttempt) == "1" {
			first = &srv.requests()[i]
		}
		if s.headers.Get(HeaderAttempt) == "2" && retry == nil {
			retry = &srv.requests()[i]
		}
	}
	if first == nil || retry == nil {
		t.Fatalf("no throttled step and retry seen")
	}
	if len(retry.messages) != 2 || retry.maxTok != first.maxTok/2 {
		t.Fatalf("retry: %d messages, max_tokens %d; want 2 and %d", len(retry.messages), retry.maxTok, first.maxTok/2)
	}
}

// TestProactiveAgentPausesInsteadOfThrottling gives the agent a budget
// header that says few tokens remain: a proactive agent pauses before the
// next step, a plain one does not.
func TestProactiveAgentPausesInsteadOfThrottling(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderRemainingTokens, "10")
		w.Header().Set(HeaderLimitTokens, strconv.Itoa(60000)) // 1000 tokens/s free up
		(&scripted{}).ServeHTTP(w, r)
	})
	url := start(t, h)
	for _, proactive := range []bool{true, false} {
		p := agentPersona(ThrottleRetryAfter, func(p *Persona) { p.Count, p.Rate, p.Proactive = 1, 1, proactive })
		s := run(t, url, 1500*time.Millisecond, p).Personas[0].Pipelines
		if proactive && (s.ProactivePauses == 0 || s.ThrottleDelaySeconds <= 0) {
			t.Errorf("proactive: %+v; want pauses and their time counted", s)
		}
		if !proactive && s.ProactivePauses != 0 {
			t.Errorf("not proactive: %d pauses", s.ProactivePauses)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    time.Duration
		said    bool
	}{
		{"seconds", map[string]string{"Retry-After": "7"}, 7 * time.Second, true},
		{"ms wins", map[string]string{"Retry-After": "7", "retry-after-ms": "6500"}, 6500 * time.Millisecond, true}, // Azure OpenAI
		{"http date", map[string]string{"Retry-After": "Wed, 25 Nov 2026 12:00:30 GMT"}, 30 * time.Second, true},
		{"renamed", map[string]string{"x-wait": "3"}, 3 * time.Second, true}, // APIM retry-after-header-name
		{"absent", map[string]string{}, time.Second, false},
	} {
		h := http.Header{}
		for k, v := range tc.headers {
			h.Set(k, v)
		}
		name := "Retry-After"
		if tc.name == "renamed" {
			name = "x-wait"
		}
		if got, said := retryAfter(h, name, now); got != tc.want || said != tc.said {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got, said, tc.want, tc.said)
		}
	}
}

// TestRetryAfterBody reads the wait from a 429's body when no header gave
// it: API Management's refusals (whose header a policy may have renamed)
// and Azure OpenAI's error message.
func TestRetryAfterBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want time.Duration
		said bool
	}{
		{`{ "statusCode": 429, "message": "Token limit is exceeded. Try again in 41 seconds." }`, 41 * time.Second, true},
		{`{ "statusCode": 403, "message": "Token quota is exceeded. Try again in 21 minutes and 33 seconds." }`, 21*time.Minute + 33*time.Second, true},
		{`{ "statusCode": 403, "message": "Token quota is exceeded. Try again in 2 days, 1 hour, 1 minute and 1 second." }`, 49*time.Hour + time.Minute + time.Second, true},
		{`{"error":{"code":"429","message":"Requests ... have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds."}}`, 6 * time.Second, true},
		{`{ "statusCode": 429, "message": "Token limit is exceeded." }`, time.Second, false},
		{`not json`, time.Second, false},
	} {
		if got, said := retryAfterBody([]byte(tc.body), time.Second); got != tc.want || said != tc.said {
			t.Errorf("%s: got %v %v, want %v %v", tc.body, got, said, tc.want, tc.said)
		}
	}
}

// TestRotateKeyHopsThePool throttles key k1 only: a caller with
// on_throttle rotate_key retries at once on k2 and stays there.
func TestRotateKeyHopsThePool(t *testing.T) {
	t.Parallel()
	srv := &scripted{answer: func(_ int64, s seen) (int, string) {
		if s.headers.Get("Ocp-Apim-Subscription-Key") == "k1" {
			return http.StatusTooManyRequests, "30"
		}
		return http.StatusOK, ""
	}}
	url := start(t, srv)
	p := persona(KindChat, func(p *Persona) {
		p.Rate, p.Arrival, p.OnThrottle = 10, ArrivalConstant, ThrottleRotate
		p.Turns = Dist{Kind: DistFixed, Value: 3}
		p.Subscription, p.Subscriptions = "", []string{"s1", "s2"}
		p.Keys = []SubKey{{ID: "s1", Key: "k1"}, {ID: "s2", Key: "k2"}}
	})
	res := run(t, url, time.Second, p)
	s := res.Personas[0]
	if s.GaveUp != 0 || s.Retries != s.Throttled || s.RetryWaitSeconds != 0 || s.OK == 0 {
		t.Fatalf("ok %d, 429 %d, retries %d, gave up %d, waited %.1fs; want every 429 retried at once on the other key",
			s.OK, s.Throttled, s.Retries, s.GaveUp, s.RetryWaitSeconds)
	}
	// the user starts on k1 (user 0), hops to k2 and stays: one 429 per conversation
	var convs int64
	for _, r := range srv.requests() {
		if len(r.messages) == 2 && r.headers.Get(HeaderAttempt) == "1" {
			convs++
		}
	}
	if s.Throttled != convs {
		t.Fatalf("%d 429s over %d conversations; want one each", s.Throttled, convs)
	}
	if res.Subscriptions[0].Throttled != s.Throttled || res.Subscriptions[1].OK != s.OK {
		t.Fatalf("per-subscription: %+v", res.Subscriptions)
	}
}
