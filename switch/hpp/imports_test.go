package hpp

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ours is what the hosted page may import of Tulpar (DESIGN.md, layer 4):
// the payment flows, the challenge redirect page and the PAN mask. Never
// the bank links, store-and-forward, the journal, bbolt or the simulators:
// a web package that sees a PAN must not be able to write it anywhere.
var ours = map[string]bool{
	"github.com/tulpar-switch/tulpar/switch/payments": true,
	"github.com/tulpar-switch/tulpar/switch/threeds":  true,
	"github.com/tulpar-switch/tulpar/iso":             true,
}

func TestImportsStayInLayer(t *testing.T) {
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
			switch {
			case strings.HasPrefix(path, "github.com/tulpar-switch/tulpar/") && !ours[path]:
				t.Errorf("%s imports %q: the hosted page may import only %v of ours", name, path, ours)
			case strings.HasPrefix(path, "go.etcd.io/bbolt"), strings.HasPrefix(path, "github.com/moov-io/"):
				t.Errorf("%s imports %q: the hosted page never touches storage or ISO 8583 directly", name, path)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
