package ctl

import (
	"os"
	"strings"
	"testing"
)

// TestModelsThatNameAFileAreRefused: in a directory holding sensor-a.log,
// "--models sensor-*" unquoted reaches tollgatectl as "sensor-a.log"; it is
// refused as a usage error naming the quoting, while the quoted pattern
// creates the license (real router, real ledger).
func TestModelsThatNameAFileAreRefused(t *testing.T) {
	realServer(t)
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/sensor-a.log", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	create := []string{"license", "create", "--customer", "root", "--type", "standard", "--billing", "term", "--months", "12"}
	code, _, errOut := run(append(create, "--models", "sensor-a.log")...)
	if code != 2 || !strings.HasPrefix(errOut, "error: usage: --models sensor-a.log: a file of that name is in the current directory") ||
		!strings.Contains(errOut, "quote it (--models 'sensor-*')") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if out := mustRun(t, "license", "list", "--customer", "root"); strings.Contains(out, "sensor-a.log") {
		t.Fatalf("a license was created with the file name:\n%s", out)
	}
	code, _, errOut = run("enrollment", "create", "--customer", "root", "--models", "sensor-a.log")
	if code != 2 || !strings.Contains(errOut, "a file of that name") {
		t.Fatalf("enrollment create: exit %d, stderr %q", code, errOut)
	}
	if out := mustRun(t, append(create, "--models", "sensor-*")...); !strings.Contains(out, "sensor-*") {
		t.Fatalf("quoted pattern:\n%s", out)
	}
}
