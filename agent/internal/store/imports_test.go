package store

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDatabaseStaysInStore: outside the store and the outbox no agent
// package imports badger (they write through Store.Update and Txn), and
// none imports the development certificate generator (config names its
// files).
func TestDatabaseStaysInStore(t *testing.T) {
	forbidden := map[string]func(dir string) bool{
		"github.com/dgraph-io/badger/v4": func(dir string) bool {
			return dir == filepath.Join("internal", "store") || dir == filepath.Join("internal", "outbox")
		},
		"github.com/tollgate-iot/tollgate/certs": func(string) bool { return false },
	}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if allowed, ok := forbidden[p]; ok && !allowed(rel) {
				t.Errorf("%s imports %s", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
