package dirsize

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBytesSumsRegularFilesBelow(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	for path, size := range map[string]int{"x": 10, "a/y": 100, "a/b/z": 1000} {
		if err := os.WriteFile(filepath.Join(dir, path), make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "a/b/z"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	got, err := Bytes(dir)
	if err != nil || got != 1110 {
		t.Fatalf("Bytes = %d, %v; want 1110 (links not followed)", got, err)
	}
	if _, err := Bytes(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing directory gave no error")
	}
}
