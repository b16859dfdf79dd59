package gateway

import (
	"fmt"
	"net/http"

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
