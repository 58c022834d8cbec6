package daemon

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/tulpar-switch/tulpar/"

// TestLayers holds DESIGN.md's dependency lines: each package imports only
// from layers below it. It reads the non-test imports of every package.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").CombinedOutput()
	require.NoError(t, err, string(out))
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[strings.TrimPrefix(f[0], module)] = f[1:]
	}
	require.Contains(t, imports, "iso")
	has := func(pkg, prefix string) bool { return strings.HasPrefix(pkg, prefix) }
	rules := []struct {
		name      string
		applies   func(pkg string) bool
		forbidden func(imp string) bool
	}{
		{"nothing imports cmd/", func(string) bool { return true }, func(i string) bool { return has(i, module+"cmd/") }},
		{"only cmd/ imports the daemon", func(p string) bool { return !has(p, "cmd/") && p != "switch/daemon" },
			func(i string) bool { return i == module+"switch/daemon" }},
		{"the simulators and the bench never import the switch", func(p string) bool { return has(p, "issuersim") || has(p, "bench") },
			func(i string) bool { return has(i, module+"switch/") }},
		{"web packages never touch links, SAF or bbolt", func(p string) bool {
			return has(p, "switch/api") || has(p, "switch/hpp") || has(p, "switch/cabinet")
		}, func(i string) bool {
			return has(i, module+"switch/links") || has(i, module+"switch/saf") || has(i, "go.etcd.io/bbolt")
		}},
		{"the foundation packages do no HTTP and no storage", func(p string) bool {
			return p == "specs" || p == "iso" || p == "hsm" || p == "routing"
		}, func(i string) bool { return i == "net/http" || has(i, "go.etcd.io/bbolt") }},
		{"the foundation imports nothing of the switch", func(p string) bool {
			return p == "specs" || p == "iso" || p == "hsm" || p == "routing" || p == "switch/journal"
		}, func(i string) bool {
			return has(i, module) && i != module+"specs"
		}},
	}
	for pkg, imps := range imports {
		for _, r := range rules {
			if !r.applies(pkg) {
				continue
			}
			for _, imp := range imps {
				require.False(t, r.forbidden(imp), "%s: %s imports %s", r.name, pkg, imp)
			}
		}
	}
}
