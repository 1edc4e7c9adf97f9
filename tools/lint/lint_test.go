// Package lint holds repository-wide checks that run with go test ./...
package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// forbiddenTime are the package time functions that read the wall clock.
// Everything takes a clock.Clock instead (docs/design.md#time), so that simulations and
// tests control time and the agent can apply its effective time.
var forbiddenTime = map[string]bool{"Now": true, "Since": true, "Until": true}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// TestNoWallClockOutsideClockPackage parses every Go file of the module and
// fails on any call of time.Now, time.Since or time.Until outside
// shared/clock.
func TestNoWallClockOutsideClockPackage(t *testing.T) {
	root := moduleRoot(t)
	allowed := filepath.Join(root, "shared", "clock")
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path == allowed || name == "testdata" || strings.HasPrefix(name, ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		rel, _ := filepath.Rel(root, path)
		for _, line := range wallClockCalls(fset, f) {
			t.Errorf("%s:%d: reads the wall clock; take a clock.Clock", rel, line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("checked only %d files: the walk is broken", checked)
	}
}

// wallClockCalls returns the lines of f that call a forbidden time function.
func wallClockCalls(fset *token.FileSet, f *ast.File) []int {
	timeName := importName(f, "time")
	if timeName == "" {
		return nil
	}
	var lines []int
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == timeName && forbiddenTime[sel.Sel.Name] {
			lines = append(lines, fset.Position(sel.Pos()).Line)
		}
		return true
	})
	return lines
}

func TestWallClockCallsFindsEveryForm(t *testing.T) {
	tests := []struct {
		name, src string
		want      int
	}{
		{"now", "package p\nimport \"time\"\nvar x = time.Now()", 1},
		{"since-and-until", "package p\nimport \"time\"\nvar a, b = time.Since(time.Time{}), time.Until(time.Time{})", 2},
		{"renamed-import", "package p\nimport t \"time\"\nvar x = t.Now", 1},
		{"duration-is-fine", "package p\nimport \"time\"\nvar x = time.Second", 0},
		{"other-package-now", "package p\nimport \"x/clock\"\nvar x = clock.Now()", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "x.go", tt.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(wallClockCalls(fset, f)); got != tt.want {
				t.Fatalf("found %d calls, want %d", got, tt.want)
			}
		})
	}
}

func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if strings.Trim(imp.Path.Value, `"`) != path {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return filepath.Base(path)
	}
	return ""
}
