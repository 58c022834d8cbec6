package acs

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/tulpar-switch/tulpar"

// TestNoSwitchImports holds DESIGN.md's line: the simulator is the issuer's
// side of 3-D Secure and meets the switch only over HTTP, so nothing it
// builds with (directly or through other Tulpar packages) is under switch/.
func TestNoSwitchImports(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not at %s: %v", root, err)
	}
	seen := map[string]bool{}
	var walk func(path, from string)
	walk = func(path, from string) {
		if seen[path] {
			return
		}
		seen[path] = true
		if strings.HasPrefix(path, module+"/switch/") || path == module+"/switch" || strings.HasPrefix(path, module+"/cmd/") {
			t.Errorf("%s imports %s", from, path)
			return
		}
		dir := filepath.Join(root, strings.TrimPrefix(path, module))
		p, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range p.Imports { // not test imports
			if strings.HasPrefix(imp, module) {
				walk(imp, path)
			}
		}
	}
	walk(module+"/issuersim/acs", "")
}
