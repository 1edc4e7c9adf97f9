// Package dirsize measures how much a directory holds, for tests that bound
// what an attacker can make a component write to disk.
package dirsize

import (
	"io/fs"
	"path/filepath"
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
