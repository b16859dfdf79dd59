package gateway

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/aiload/aiload/record"
)

// headerSize is the size of r's request line and header fields as sent on
// the wire by HTTP/1.1 ("Name: value\r\n" per value), which is what
// net/http's MaxHeaderBytes counts.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n + len(r.Host) + len("Host: \r\n")
}

// headersFit answers 431 with an OpenAI-style error (and a record) when
// the request's headers exceed Options.MaxHeaderBytes.
func (g *Gateway) headersFit(x *exchange) bool {
	limit := g.opts.MaxHeaderBytes
	if limit <= 0 || headerSize(x.r) <= limit {
		return true
	}
	g.reject(x, http.StatusRequestHeaderFieldsTooLarge, record.OutcomeBadRequest, "invalid_request_error", "request_headers_too_large",
		fmt.Sprintf("request headers exceed %d bytes", limit))
	return false
}

// UtilizationHeader is the header in which a provisioned (PTU) Azure OpenAI
// deployment reports its load with each answer ("42.5%"); the gateway
// passes it on to the caller and keeps it in the record.
const UtilizationHeader = "azure-openai-deployment-utilization"

// utilizationOf reads UtilizationHeader as a percentage ("42.5%" or
// "42.5"); nil when absent or unreadable.
func utilizationOf(h interface{ Get(string) string }) *float64 {
	v := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(h.Get(UtilizationHeader)), "%"))
	if v == "" {
		return nil
	}
	u, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(u) || math.IsInf(u, 0) || u < 0 {
		return nil
	}
	return &u
}
