package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/switch/api"
)

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
