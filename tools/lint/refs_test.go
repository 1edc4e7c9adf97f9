package lint

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outsideRefs are the spellings of references to design documents that
// live outside the repository. The repository's own design is under docs/
// (design.md, api.md, dependencies.md); a newcomer with a clone must be
// able to follow every reference. The strings are split so that this file
// does not match itself.
var outsideRefs = []string{
	"shared/" + "SPEC",
	"INTERFACES" + ".md",
	"DEPENDENCIES" + ".md",
	"SPEC" + " §",
}

// TestNoReferencesOutsideRepo fails on any Go or Markdown file of the
// repository that cites a design document outside it.
func TestNoReferencesOutsideRepo(t *testing.T) {
	root := moduleRoot(t)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".md") {
			return nil
		}
		checked++
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			for _, ref := range outsideRefs {
				if strings.Contains(line, ref) {
					rel, _ := filepath.Rel(root, path)
					t.Errorf("%s:%d cites %q, which is not in the repository; cite docs/design.md, docs/api.md or docs/dependencies.md instead", rel, n, ref)
				}
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Go or Markdown files found: the walk is broken")
	}
}
