package vendortest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// FHIR is a local FHIR R4 server that takes conditional updates
// (PUT [base]/{type}?identifier=system|value, any base path): it checks the bearer
// token, the content type, the resource's type and that the resource carries the
// identifier it is keyed on; creates the resource (201, with a Location) the first
// time and updates it (200) after. Its errors are OperationOutcomes.
type FHIR struct {
	base
	token string

	mu        sync.Mutex
	resources map[string]map[string]any // "Type|system|value" → resource
	versions  map[string]int
	ids       map[string]string
}

// NewFHIR starts a FHIR server that accepts one bearer token.
func NewFHIR(t testing.TB, token string) *FHIR {
	f := &FHIR{token: token, resources: map[string]map[string]any{},
		versions: map[string]int{}, ids: map[string]string{}}
	f.start(t, f.serve)
	return f
}

// Resources returns the stored resources of a type, keyed by their identifier
// ("system|value").
func (f *FHIR) Resources(resourceType string) map[string]map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[string]any{}
	for k, r := range f.resources {
		if t, ident, _ := strings.Cut(k, "|"); t == resourceType {
			out[ident] = r
		}
	}
	return out
}

// Version is how many times a resource was written (1 after its creation).
func (f *FHIR) Version(resourceType, identifier string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.versions[resourceType+"|"+identifier]
}

// OperationOutcome is FHIR's error body with one issue.
func OperationOutcome(code, diagnostics string) map[string]any {
	return map[string]any{"resourceType": "OperationOutcome", "issue": []any{
		map[string]any{"severity": "error", "code": code, "diagnostics": diagnostics}}}
}

func (f *FHIR) serve(w http.ResponseWriter, r *http.Request) {
	_, fault := f.record(r)
	wait(r, fault)
	if fault != nil && !fault.Accept {
		answerFault(w, fault, func(int) any {
			return OperationOutcome("transient", "the server is busy")
		})
		return
	}
	status, answer, loc := f.put(r)
	if fault != nil {
		answerFault(w, fault, func(int) any {
			return OperationOutcome("transient", "the server is busy")
		})
		return
	}
	if loc != "" {
		w.Header().Set("Location", loc)
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(answer)
}

func (f *FHIR) put(r *http.Request) (int, any, string) {
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		return http.StatusUnauthorized, OperationOutcome("login", "bad token"), ""
	}
	// The base may have a path of its own (/fhir/R4); the type is the last segment.
	resourceType := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	if r.Method != http.MethodPut ||
		(resourceType != "Appointment" && resourceType != "Encounter") {
		return http.StatusMethodNotAllowed,
			OperationOutcome("not-supported", "PUT Appointment or Encounter only"), ""
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		return http.StatusUnsupportedMediaType,
			OperationOutcome("not-supported", "content type "+ct), ""
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	ident := q.Get("identifier")
	system, value, ok := strings.Cut(ident, "|")
	if err != nil || len(q) != 1 || !ok || system == "" || value == "" {
		return http.StatusBadRequest,
			OperationOutcome("invalid", "conditional update needs identifier=system|value"), ""
	}
	body, _ := io.ReadAll(r.Body)
	var res map[string]any
	if json.Unmarshal(body, &res) != nil || res["resourceType"] != resourceType {
		return http.StatusBadRequest, OperationOutcome("structure", "not a "+resourceType), ""
	}
	if !carries(res, system, value) {
		return http.StatusBadRequest,
			OperationOutcome("invariant", "the resource lacks the identifier it is keyed on"), ""
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	key := resourceType + "|" + ident
	id, found := f.ids[key]
	if !found {
		id = strconv.Itoa(len(f.ids) + 1)
		f.ids[key] = id
	}
	f.versions[key]++
	res["id"] = id
	res["meta"] = map[string]any{"versionId": strconv.Itoa(f.versions[key])}
	f.resources[key] = res
	if found {
		return http.StatusOK, res, ""
	}
	return http.StatusCreated, res, f.srv.URL + "/" + resourceType + "/" + id +
		"/_history/1"
}

func carries(res map[string]any, system, value string) bool {
	list, _ := res["identifier"].([]any)
	for _, it := range list {
		m, _ := it.(map[string]any)
		if m["system"] == system && m["value"] == value {
			return true
		}
	}
	return false
}
