package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryLedgerErrorIsMapped fails when the ledger declares an Err*
// sentinel that the API's one error map does not name, or names with a 500:
// such an error would reach a client as "internal" instead of its own code.
// The ledger's sentinels are read from its source; the map's names from
// errors.go, paired by position with the statuses errorMap holds.
func TestEveryLedgerErrorIsMapped(t *testing.T) {
	declared := ledgerSentinels(t)
	if len(declared) < 30 {
		t.Fatalf("found only %d ledger sentinels: the source walk is broken", len(declared))
	}
	names := errorMapNames(t)
	if len(names) != len(errorMap) {
		t.Fatalf("errors.go lists %d entries, errorMap holds %d", len(names), len(errorMap))
	}
	mapped := map[string]int{}
	for i, n := range names {
		if _, ok := mapped[n]; !ok { // the first entry wins, as in describe
			mapped[n] = errorMap[i].status
		}
	}
	for _, name := range declared {
		status, ok := mapped["ledger."+name]
		switch {
		case !ok:
			t.Errorf("ledger.%s is not in the API's error map: a client would get 500 internal", name)
		case status == http.StatusInternalServerError:
			t.Errorf("ledger.%s maps to 500", name)
		}
	}
}

// ledgerSentinels returns the names of the exported Err* variables the
// ledger package declares (test files excluded).
func ledgerSentinels(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "ledger", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				for _, n := range spec.(*ast.ValueSpec).Names {
					if strings.HasPrefix(n.Name, "Err") {
						out = append(out, n.Name)
					}
				}
			}
		}
	}
	return out
}

// errorMapNames returns the first field of each errorMap entry as written
// in errors.go ("ledger.ErrNotFound", "ErrBusy", …), in order.
func errorMapNames(t *testing.T) []string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(file, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "errorMap" || len(vs.Values) != 1 {
			return true
		}
		for _, e := range vs.Values[0].(*ast.CompositeLit).Elts {
			switch x := e.(*ast.CompositeLit).Elts[0].(type) {
			case *ast.SelectorExpr:
				out = append(out, x.X.(*ast.Ident).Name+"."+x.Sel.Name)
			case *ast.Ident:
				out = append(out, x.Name)
			default:
				t.Fatalf("errorMap entry of unexpected form %T", x)
			}
		}
		return false
	})
	return out
}
