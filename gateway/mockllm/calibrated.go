package mockllm

import (
	"context"
	"net/http"
	"time"

	"github.com/aiload/aiload/gateway/chat"
)

// calibrated draws a calibrated answer's completion length for maxOut and
// its pacing; (0, nil) when cal is nil.
func (s *Server) calibrated(cal *DeploymentCalibration, prompt, maxOut int64) (int64, *calPlan) {
	if cal == nil {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	completion := cal.Completion.DrawCompletion(maxOut, s.rng.Float64())
	if !cal.timed() {
		return completion, nil
	}
	return completion, cal.planFor(prompt, completion, s.rng)
}

// timed reports whether d holds latency fits: a calibration made of
// answers that were not streamed (a --record of such a run) has none, and
// the mock keeps its configured delays for it.
func (d *DeploymentCalibration) timed() bool {
	return d.TTFT.Observed.Count > 0 || d.ITL.Observed.Count > 0 || d.TTFT.Intercept != 0 || d.ITL.Intercept != 0
}

// streamPlanned answers a calibrated chat request with server-sent events
// paced by its plan: the role chunk and the first content chunk at the
// time to first token, each later content chunk after its gap, then the
// finish chunk, the usage chunk when asked for, and [DONE]. It reports
// whether the stream was sent to the end.
func (s *Server) streamPlanned(w http.ResponseWriter, r *http.Request, model string, v verdict, includeUsage bool) bool {
	cs, ok := s.openChatStream(w, model, includeUsage)
	if !ok {
		return false
	}
	send, chunk := cs.send, cs.chunk
	p := v.plan
	if s.sleep(r.Context(), p.ttft) != nil {
		return false
	}
	send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for i, n := range p.sizes {
		text := Text(n)
		if i > 0 {
			text = " " + text
			if s.sleep(r.Context(), p.gaps[i-1]) != nil {
				return false
			}
		}
		send(chunk(map[string]any{"content": text}, nil))
	}
	cs.finish(chat.Usage{PromptTokens: v.prompt, CompletionTokens: v.completion, TotalTokens: v.prompt + v.completion})
	return true
}

// callPlanned sleeps an in-process calibrated stream's plan, in two parts
// (to the first content, then to the end), and fills a's timings as
// streamPlanned would show them. It reports whether the caller stayed.
func (s *Server) callPlanned(ctx context.Context, a *chat.Answer, start time.Time, p *calPlan) bool {
	if s.sleep(ctx, p.ttft) != nil {
		return false
	}
	a.Stream, a.FirstChunk = true, s.cfg.Clock.Now().Sub(start)
	a.FirstContent = a.FirstChunk
	a.ContentGaps = append(a.ContentGaps, p.gaps...)
	return s.sleep(ctx, p.total()-p.ttft) == nil
}
