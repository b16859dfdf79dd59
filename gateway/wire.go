package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/record"
)

// apim reports whether the gateway answers as API Management does.
func (g *Gateway) apim() bool { return g.cfg.Wire == WireAPIM }

// APIMErrorBody is the body of an answer API Management makes itself (a
// subscription key, validate-jwt or token limit refusal), byte for byte as
// it sends it: { "statusCode": 429, "message": "…" }.
func APIMErrorBody(status int, msg string) []byte {
	m, _ := json.Marshal(msg)
	return []byte(fmt.Sprintf(`{ "statusCode": %d, "message": %s }`, status, m))
}

// failAPIM answers with API Management's error body.
func (x *exchange) failAPIM(status int, msg string) {
	if x.w != nil {
		x.w.Header().Set("Content-Type", "application/json")
		x.w.WriteHeader(status)
		_, _ = x.w.Write(APIMErrorBody(status, msg))
		return
	}
	x.answer.Status = status
	x.answer.Error = &chat.ErrorDetail{Message: msg, Code: strconv.Itoa(status)}
	x.answer.Header.Set("Content-Type", "application/json")
}

// rejectAPIM answers with API Management's error body and records the outcome.
func (g *Gateway) rejectAPIM(x *exchange, status int, outcome record.Outcome, msg string) {
	x.rec.Status, x.rec.Outcome = status, outcome
	g.finish(x)
	x.failAPIM(status, msg)
}

// keyChallenge is the WWW-Authenticate API Management sends with a
// subscription key refusal: the realm is the API's URL.
func (x *exchange) keyChallenge() string {
	realm := "/v1"
	if x.deployment != "" {
		realm = "/openai"
	}
	if x.r != nil {
		scheme := "http"
		if x.r.TLS != nil {
			scheme = "https"
		}
		realm = scheme + "://" + x.r.Host + realm
	}
	return `AzureApiManagementKey realm="` + realm + `",name="Ocp-Apim-Subscription-Key",type="header"`
}

// waitPhrase says how long until d has passed as API Management's token
// limit refusals do: "41 seconds", "21 minutes and 33 seconds"; longer
// waits name hours (and days) the same way. d is rounded up to a second.
func waitPhrase(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	units := []struct {
		name string
		size int64
	}{{"day", 86400}, {"hour", 3600}, {"minute", 60}, {"second", 1}}
	var parts []string
	for _, u := range units {
		n := secs / u.size
		secs -= n * u.size
		if n == 0 && !(u.size == 1 && len(parts) == 0) {
			continue
		}
		p := strconv.FormatInt(n, 10) + " " + u.name
		if n != 1 {
			p += "s"
		}
		parts = append(parts, p)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// hopByHop are response headers that describe one connection, and
// credentials, which a backend's answer never passes on to the caller.
var notPassed = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
	"Set-Cookie": true, "Authorization": true, "Api-Key": true, "Ocp-Apim-Subscription-Key": true,
	"Www-Authenticate": true, "Date": true, "Server": true,
	"X-Ms-Request-Id": true, // the gateway's own: it names the record
}

// copyBackendHeaders passes a backend answer's headers on to the caller
// (x-ms-region, apim-request-id, x-request-id, its x-ratelimit-* and
// Retry-After, a provisioned deployment's utilization, …), replacing what
// the gateway set, except hop-by-hop headers, the framing (the gateway
// frames the answer itself), credentials and x-ms-request-id.
func copyBackendHeaders(dst headerSetter, src any) {
	switch h := src.(type) {
	case http.Header:
		var conn []string
		for _, v := range h.Values("Connection") {
			for _, f := range strings.Split(v, ",") {
				conn = append(conn, http.CanonicalHeaderKey(strings.TrimSpace(f)))
			}
		}
		for k, vs := range h {
			ck := http.CanonicalHeaderKey(k)
			if notPassed[ck] || contains(conn, ck) || len(vs) == 0 {
				continue
			}
			if hh, ok := dst.(http.Header); ok {
				hh[ck] = append([]string(nil), vs...)
				continue
			}
			dst.Set(ck, vs[0])
		}
	case chat.Header:
		for _, f := range h {
			if !notPassed[http.CanonicalHeaderKey(f.Name)] {
				dst.Set(f.Name, f.Value)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
