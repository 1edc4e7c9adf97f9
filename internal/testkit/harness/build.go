package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
)

// built maps an import path to its binary, for the life of the test
// binary: each package is built once however many tests ask.
var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

// Build builds the main packages (import paths) into one temporary
// directory, skipping those already built, and returns that directory.
// Call it from TestMain; Cleanup removes the directory.
func Build(pkgs ...string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "tollgate-e2e-bin")
		if err != nil {
			return "", err
		}
		buildDir = dir
	}
	var todo []string
	for _, p := range pkgs {
		if _, ok := built[p]; !ok {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return buildDir, nil
	}
	args := append([]string{"build", "-o", buildDir + string(os.PathSeparator)}, todo...)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: go build %v: %v\n%s", ErrBuild, todo, err, out)
	}
	for _, p := range todo {
		built[p] = filepath.Join(buildDir, path.Base(p))
	}
	return buildDir, nil
}

// Binary returns the file Build made of pkg, or "" if it was not built.
func Binary(pkg string) string {
	buildMu.Lock()
	defer buildMu.Unlock()
	return built[pkg]
}

// Cleanup removes what Build made.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	buildDir, built = "", map[string]string{}
}
