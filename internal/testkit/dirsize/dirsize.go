// Package dirsize measures how much a directory holds, for tests that bound
// what an attacker can make a component write to disk.
package dirsize

import (
	"io/fs"
	"path/filepath"
	"testing"
)

// Bytes sums the sizes of the regular files under dir (links are not
// followed).
func Bytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}

// Of is Bytes for a test: it fails t on an error.
func Of(t testing.TB, dir string) int64 {
	t.Helper()
	n, err := Bytes(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
