package ctl

import (
	"os"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/cli"
)

// checkModelsNotFiles refuses a --models value that names a file in the
// current directory. An unquoted glob (--models sensor-*) is expanded by
// the shell before tollgatectl runs, into the names of the files it
// matches; the server cannot tell "sensor-a.log" from a model, but here,
// where the shell ran, the file is there to see. A pattern with * or ?
// reached us unexpanded and is never a file name the shell produced.
func checkModelsNotFiles(patterns []string) error {
	for _, p := range patterns {
		if p == "" || strings.ContainsAny(p, "*?") {
			continue
		}
		if _, err := os.Lstat(p); err == nil {
			return cli.Usagef("--models %s: a file of that name is in the current directory, so the shell probably expanded an unquoted pattern; quote it (--models 'sensor-*'), or run from another directory if %s is really a model", p, p)
		}
	}
	return nil
}
