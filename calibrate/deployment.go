package calibrate

import (
	"math"
	"slices"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
)

// deployment fits one deployment's samples, sorted by the end of their
// answers; start is when the load started.
func deployment(name string, samples []sample, start time.Time) *mockllm.DeploymentCalibration {
	d := &mockllm.DeploymentCalibration{Name: name, Requests: int64(len(samples))}
	load := trailingLoad(samples)
	var ttft, tPrompt, itl, iPrompt, iCompl, ratios, lengths []float64
	var tokens, chunks float64
	for i, s := range samples {
		p := mockllm.CalibrationPoint{At: round3(s.sent.Sub(start).Seconds()), Status: s.status, PromptTokens: s.prompt,
			MaxTokens: s.maxTok, CompletionTokens: s.completion, Utilization: s.utilization, LoadTPM: math.Round(load[i]),
			RetryAfter: round3(s.retryAfter)}
		if s.status == 200 {
			d.OK++
			if s.maxTok > 0 && s.completion > 0 {
				ratios = append(ratios, float64(s.completion)/float64(s.maxTok))
				lengths = append(lengths, float64(s.completion))
			}
		}
		if s.status == 200 && s.streamed && s.completion > 0 {
			p.TTFT, p.Chunks = round3(s.ttft), s.chunks
			ttft, tPrompt = append(ttft, s.ttft), append(tPrompt, float64(s.prompt))
			g := make([]float64, len(s.gaps))
			for j, v := range s.gaps {
				g[j] = float64(v)
				itl = append(itl, float64(v))
				iPrompt, iCompl = append(iPrompt, float64(s.prompt)), append(iCompl, float64(s.completion))
			}
			if len(g) > 0 {
				sm := summarise(g)
				p.ITL, p.ITLP95 = sm.Mean, sm.P95
			}
			tokens += float64(s.completion)
			chunks += float64(s.chunks)
		}
		d.Points = append(d.Points, p)
	}
	d.TTFT = latencyModel(ttft, tPrompt, make([]float64, len(ttft)))
	d.ITL = latencyModel(itl, iPrompt, iCompl)
	d.TokensPerChunk = 1
	if chunks > 0 {
		d.TokensPerChunk = round3(max(tokens/chunks, 1))
	}
	d.Completion = completionModel(ratios, lengths)
	d.Utilization = utilizationFit(d.Points)
	d.Throttling = throttling(d.Points, samples)
	return d
}

// trailingLoad returns, for each sample, the prompt + completion tokens
// of the answers that ended in the minute up to its own end: the load the
// deployment was under, in tokens per minute.
func trailingLoad(samples []sample) []float64 {
	out := make([]float64, len(samples))
	sum, lo := 0.0, 0
	for i, s := range samples {
		if s.status == 200 {
			sum += float64(s.prompt + s.completion)
		}
		for ; samples[lo].end.Before(s.end.Add(-time.Minute)); lo++ {
			if samples[lo].status == 200 {
				sum -= float64(samples[lo].prompt + samples[lo].completion)
			}
		}
		out[i] = sum
	}
	return out
}

// completionModel describes completion lengths as shares of max_tokens.
func completionModel(ratios, lengths []float64) mockllm.CompletionModel {
	m := mockllm.CompletionModel{Ratios: percentiles(ratios), Observed: summarise(lengths)}
	if len(ratios) == 0 {
		m.Ratios = slices.Repeat([]float64{1}, mockllm.QuantileCount)
		return m
	}
	full := 0
	for _, r := range ratios {
		if r >= 1 {
			full++
		}
	}
	m.AtMaxShare = round3(float64(full) / float64(len(ratios)))
	return m
}

// utilizationFit fits the reported utilization against the load; nil when
// no answer reported one.
func utilizationFit(points []mockllm.CalibrationPoint) *mockllm.UtilizationFit {
	var u, load []float64
	for _, p := range points {
		if p.Utilization >= 0 {
			u, load = append(u, p.Utilization), append(load, p.LoadTPM/1000)
		}
	}
	if len(u) == 0 {
		return nil
	}
	f := fitLinear(u, load)
	fit := &mockllm.UtilizationFit{Points: len(u), InterceptPct: round3(f.coef[0]), PctPerKTPM: round6(f.coef[1]), Observed: summarise(u)}
	if f.coef[1] > 0 && len(u) >= 10 {
		fit.CapacityTPM = int64(math.Round((100 - f.coef[0]) / f.coef[1] * 1000))
		fit.CapacityTPM = max(fit.CapacityTPM, 0)
	}
	return fit
}

// throttling summarises the 429s.
func throttling(points []mockllm.CalibrationPoint, samples []sample) mockllm.Throttling {
	var t mockllm.Throttling
	var ra, load []float64
	for i, p := range points {
		if p.Status != 429 {
			continue
		}
		t.Count++
		load = append(load, p.LoadTPM)
		if samples[i].retryAfterStated {
			ra = append(ra, p.RetryAfter)
		}
	}
	if len(points) > 0 {
		t.Share = round3(float64(t.Count) / float64(len(points)))
	}
	t.RetryAfter = summarise(ra)
	t.LoadTPM = summarise(load).P50
	return t
}
