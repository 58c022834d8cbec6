package daemon

import (
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/tulpar-switch/tulpar/"

// TestLayers holds DESIGN.md's dependency lines for the whole module, in
// one place: each package imports only from layers below it. It reads the
// non-test imports of every package (go list) and checks both what a
// package imports directly and everything it pulls in.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").CombinedOutput()
	require.NoError(t, err, string(out))
	direct := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		direct[f[0]] = f[1:]
	}
	require.Contains(t, direct, module+"iso")
	require.Contains(t, direct, module+"emv3ds")
	// deps is the transitive closure over our own packages, plus the
	// outside packages any of them import directly.
	var deps func(pkg string, seen map[string]bool)
	deps = func(pkg string, seen map[string]bool) {
		for _, imp := range direct[pkg] {
			if !seen[imp] {
				seen[imp] = true
				deps(imp, seen)
			}
		}
	}
	is := func(names ...string) func(string) bool {
		return func(p string) bool {
			for _, n := range names {
				if p == module+n || strings.HasPrefix(p, module+n+"/") {
					return true
				}
			}
			return false
		}
	}
	std := func(imp string) bool { return !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") }
	// direct rules are about what a package's own code touches (the web
	// packages reach links and bbolt through payments, by design); the
	// others hold for everything a package pulls in.
	rules := []struct {
		name      string
		applies   func(pkg string) bool
		forbidden func(imp string) bool
		direct    bool
	}{
		{"nothing imports cmd/", func(string) bool { return true }, is("cmd"), false},
		{"only cmd/, switch/demo and switch/switchtest import the daemon", func(p string) bool { return !is("cmd", "switch/daemon", "switch/demo", "switch/switchtest")(p) }, is("switch/daemon"), false},
		{"only cmd/ imports the demo world", func(p string) bool { return !is("cmd", "switch/demo")(p) }, is("switch/demo"), false},
		{"switch/daemon never imports the simulators (issuersim, issuersim/acs, fiscalsim)", is("switch/daemon"), is("issuersim", "switch/fiscal/fiscalsim"), false},
		{"the fiscal service simulator is the other side: nothing of ours", is("switch/fiscal/fiscalsim"), func(i string) bool { return strings.HasPrefix(i, module) }, false},
		{"the simulators and the bench never use the switch", is("issuersim", "bench"), is("switch", "cmd"), false},
		{"the 3-D Secure requestor speaks HTTP and the wire only", is("switch/threeds"), func(i string) bool {
			return strings.HasPrefix(i, module) && !is("emv3ds")(i)
		}, false},
		{"web packages never touch links, SAF, the journal or bbolt", is("switch/api", "switch/cnp", "switch/hpp", "switch/cabinet"),
			func(i string) bool {
				return is("switch/links", "switch/saf", "switch/journal")(i) || strings.HasPrefix(i, "go.etcd.io/bbolt")
			}, true},
		{"the order vocabulary is pure: iso and the record compressor only", is("switch/order"),
			func(i string) bool {
				return (strings.HasPrefix(i, module) && !is("iso", "specs", "switch/compact")(i)) || i == "net/http" || strings.HasPrefix(i, "go.etcd.io/bbolt")
			}, false},
		{"the hosted page and the cabinet never see ISO 8583 wire code", is("switch/hpp", "switch/cabinet"), func(i string) bool {
			return strings.HasPrefix(i, "github.com/moov-io/")
		}, true},
		// hsm/hsmtest is the tests' card-data scanner: it reads the data
		// file's records (journal, compressed orders) to scan them;
		// switch/compact/mkdict reads a journal to make a dictionary.
		{"the foundation does no HTTP and no storage", func(p string) bool { return is("specs", "iso", "hsm", "routing")(p) && !is("hsm/hsmtest")(p) },
			func(i string) bool { return i == "net/http" || strings.HasPrefix(i, "go.etcd.io/bbolt") }, false},
		{"the foundation and the journal use nothing of the switch but the record compressor",
			func(p string) bool {
				return is("specs", "iso", "hsm", "routing", "switch/journal", "switch/compact")(p) && !is("hsm/pkcs11", "hsm/hsmtest", "switch/compact/mkdict")(p)
			},
			func(i string) bool { return strings.HasPrefix(i, module) && !is("specs", "switch/compact")(i) }, false},
		{"the PKCS#11 module builds on hsm alone", is("hsm/pkcs11"),
			func(i string) bool { return strings.HasPrefix(i, module) && !is("hsm")(i) }, false},
		{"routing is pure logic: the standard library only", is("routing"), func(i string) bool { return !std(i) }, false},
		{"store-and-forward is a generic queue: nothing of ours", is("switch/saf"), func(i string) bool { return strings.HasPrefix(i, module) }, false},
		{"the cabinet's user store keeps people, not payments: nothing of ours but the journal that opens the data file, the guard that runs the hashes (and the cores it sizes them by) and what a client's network is", is("switch/users"),
			func(i string) bool {
				return strings.HasPrefix(i, module) && !is("switch/journal", "switch/compact", "specs", "switch/authguard", "switch/cores", "switch/clientip")(i)
			}, false},
		// Both sides of 3-D Secure import the wire, and issuersim may not
		// import switch/..., so the wire must stand on nothing of ours.
		{"the 3-D Secure wire is the standard library only", is("emv3ds"), func(i string) bool { return !std(i) }, false},
	}
	pkgs := make([]string, 0, len(direct))
	for p := range direct {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		all := map[string]bool{}
		deps(pkg, all)
		for _, r := range rules {
			if !r.applies(pkg) {
				continue
			}
			checked := all
			if r.direct {
				checked = map[string]bool{}
				for _, imp := range direct[pkg] {
					checked[imp] = true
				}
			}
			for imp := range checked {
				require.False(t, r.forbidden(imp), "%s: %s depends on %s", r.name, strings.TrimPrefix(pkg, module), imp)
			}
		}
	}
}
