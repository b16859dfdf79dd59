package mockllm

import (
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/aiload/aiload/gateway/chat"
)

// APIVersions are the api-version values of the Azure OpenAI inference
// API that the mock accepts on its /openai/ routes, as Azure's REST
// reference lists them: the GA releases, then the previews.
var APIVersions = []string{
	"2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21",
	"2023-03-15-preview", "2023-06-01-preview", "2023-07-01-preview", "2023-08-01-preview",
	"2023-09-01-preview", "2023-12-01-preview", "2024-02-15-preview", "2024-03-01-preview",
	"2024-04-01-preview", "2024-05-01-preview", "2024-07-01-preview", "2024-08-01-preview",
	"2024-09-01-preview", "2024-10-01-preview", "2024-12-01-preview", "2025-01-01-preview",
	"2025-02-01-preview", "2025-03-01-preview", "2025-04-01-preview",
}

// responsesSince is the first api-version that serves the Responses API on
// /openai/responses.
const responsesSince = "2025-03-01-preview"

// v1Versions are the api-version values the v1 routes (/openai/v1/…)
// take; they also take none.
var v1Versions = []string{"v1", "preview", "latest"}

// Azure's answers to a request without an api-version (404) and with one
// it does not serve (400).
const (
	azureNotFound          = `{"error":{"code":"404","message":"Resource not found"}}`
	azureVersionNotSupport = `{"error":{"code":"BadRequest","message":"API version not supported"}}`
)

// checkAPIVersion answers an Azure route's request whose api-version Azure
// would refuse, as Azure answers it, and reports whether the request may
// go on. OpenAI routes (/v1/…) take no api-version.
func checkAPIVersion(w http.ResponseWriter, r *http.Request, op string) bool {
	path := r.URL.Path
	if !strings.HasPrefix(path, "/openai/") {
		return true
	}
	v := r.URL.Query().Get("api-version")
	switch {
	case strings.HasPrefix(path, "/openai/v1/"):
		if v == "" || slices.Contains(v1Versions, v) {
			return true
		}
	case v == "":
		writeAzure(w, http.StatusNotFound, azureNotFound)
		return false
	case slices.Contains(APIVersions, v) && (op != chat.OpResponses || v >= responsesSince):
		// dated versions compare as strings: "2025-04-01-preview" >= "2025-03-01-preview"
		return true
	}
	writeAzure(w, http.StatusBadRequest, azureVersionNotSupport)
	return false
}

func writeAzure(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
