package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/switch/api"
)

// The OpenAPI document is checked three ways: by kin-openapi (structure,
// and the examples its Validate knows), by walking every example in it
// against its schema here, and by validating the switch's real answers
// against it (TestAnswersMatchOpenAPI). Redocly's linter runs on it too:
// see switch/api/redocly.yaml.

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	require.NoError(t, err)
	return doc
}

// TestOpenAPICoversRoutes: every route the server answers is in the
// document, and the document promises nothing the server lacks.
func TestOpenAPICoversRoutes(t *testing.T) {
	h := newHarness(t)
	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(api.OpenAPI(), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.1"))

	// The routes of a server as the switch's, from the same config.
	srv, err := api.New(h.svc, h.cfg, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	served := map[string]bool{}
	for _, r := range srv.Routes() {
		key := strings.ToLower(r.Method) + " " + r.Path
		served[key] = true
		require.Contains(t, doc.Paths, r.Path, "route %s %s is not documented", r.Method, r.Path)
		require.Contains(t, doc.Paths[r.Path], strings.ToLower(r.Method), "method %s of %s is not documented", r.Method, r.Path)
	}
	for path, methods := range doc.Paths {
		for m := range methods {
			require.True(t, served[m+" "+path], "documented %s %s is not served", m, path)
		}
	}

	resp, err := http.Get(h.URL() + "/v1/openapi.yaml")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, api.OpenAPI(), body)
}

// TestOpenAPIValid: the document is valid OpenAPI 3.1 (kin-openapi), and
// every operation has an operationId of its own.
func TestOpenAPIValid(t *testing.T) {
	doc := loadSpec(t)
	require.NoError(t, doc.Validate(context.Background()))
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			require.NotEmpty(t, op.OperationID, "%s has no operationId", where)
			require.NotContains(t, ids, op.OperationID, "%s: operationId %q already names %s", where, op.OperationID, ids[op.OperationID])
			ids[op.OperationID] = where
		}
	}
}

// TestOpenAPIExamples validates every example in the document against
// the schema it illustrates: schemas' own examples (and those of every
// property, item and branch in them), parameters' and media types'.
func TestOpenAPIExamples(t *testing.T) {
	doc := loadSpec(t)
	n := 0
	check := func(where string, s *openapi3.Schema, v any) {
		t.Helper()
		n++
		require.NoError(t, doc.ValidateSchemaJSON(s, v, openapi3.EnableJSONSchema2020()), "example at %s", where)
	}
	seen := map[*openapi3.Schema]bool{}
	var walk func(where string, ref *openapi3.SchemaRef)
	walk = func(where string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		for i, ex := range s.Examples {
			check(fmt.Sprintf("%s examples[%d]", where, i), s, ex)
		}
		if s.Example != nil {
			check(where+" example", s, s.Example)
		}
		for name, p := range s.Properties {
			walk(where+"."+name, p)
		}
		walk(where+"[]", s.Items)
		walk(where+"{}", s.AdditionalProperties.Schema)
		for i, sub := range slices.Concat(s.AllOf, s.OneOf, s.AnyOf) {
			walk(fmt.Sprintf("%s|%d", where, i), sub)
		}
	}
	media := func(where string, c openapi3.Content) {
		for mt, m := range c {
			if m.Schema == nil {
				continue
			}
			walk(where+" "+mt, m.Schema)
			if m.Example != nil {
				check(where+" "+mt+" example", m.Schema.Value, m.Example)
			}
			for name, ex := range m.Examples {
				check(where+" "+mt+" examples."+name, m.Schema.Value, ex.Value.Value)
			}
		}
	}
	for name, s := range doc.Components.Schemas {
		walk("#/components/schemas/"+name, s)
	}
	for name, r := range doc.Components.Responses {
		media("#/components/responses/"+name, r.Value.Content)
	}
	for name, r := range doc.Components.RequestBodies {
		media("#/components/requestBodies/"+name, r.Value.Content)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			for _, p := range op.Parameters {
				walk(where+" parameter "+p.Value.Name, p.Value.Schema)
				for name, ex := range p.Value.Examples {
					check(where+" parameter "+p.Value.Name+" examples."+name, p.Value.Schema.Value, ex.Value.Value)
				}
			}
			if op.RequestBody != nil {
				media(where+" request", op.RequestBody.Value.Content)
			}
			for status, r := range op.Responses.Map() {
				media(where+" "+status, r.Value.Content)
			}
		}
	}
	require.Greater(t, n, 25, "examples checked")
}

// specCheck is an HTTP transport that validates every answer against the
// document (kin-openapi's openapi3filter): an answer with a status the
// operation does not document, or a body its schema refuses, fails the
// test. It notes which operations answered with which status.
type specCheck struct {
	t      *testing.T
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool // operationId + " " + status
}

func newSpecCheck(t *testing.T, base string) *specCheck {
	doc := loadSpec(t)
	doc.Servers = openapi3.Servers{{URL: base}}
	r, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	return &specCheck{t: t, router: r, seen: map[string]bool{}}
}

func (s *specCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		s.t.Errorf("%s %s: not in the document: %v", req.Method, req.URL.Path, err)
		return resp, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		s.t.Errorf("%s %s answered %d %.600s\nwhich the document refuses: %v", req.Method, req.URL.Path, resp.StatusCode, body, err)
	}
	s.mu.Lock()
	s.seen[fmt.Sprintf("%s %d", route.Operation.OperationID, resp.StatusCode)] = true
	s.mu.Unlock()
	return resp, nil
}

func (s *specCheck) answered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
