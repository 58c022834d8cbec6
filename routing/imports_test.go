package routing

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// allowedImports is everything routing's non-test code may import: it is
// pure logic, so no I/O, no network, no storage and nothing of ours
// (DESIGN.md, layer 0). Widen this list only for packages of the same kind.
var allowedImports = map[string]bool{
	"errors": true, "fmt": true, "math": true, "math/bits": true, "math/rand/v2": true,
	"slices": true, "strconv": true, "strings": true,
}

func TestImportsStayPure(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowedImports[path] {
				t.Errorf("%s imports %q: routing is pure logic and may import only %v", name, path, allowedImports)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
