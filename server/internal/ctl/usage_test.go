package ctl

import (
	"strings"
	"testing"
)

// TestUsageErrorIsOneLineAndTheSynopsis runs mistyped command lines through
// the real command table: the error is printed once, followed by the
// command's synopsis and nothing else (no flag list), with exit status 2.
func TestUsageErrorIsOneLineAndTheSynopsis(t *testing.T) {
	t.Setenv("TOLLGATE_API_KEY", "tgk_x")
	tests := []struct {
		name string
		args []string
		want []string // the exact stderr lines
	}{
		{"unknown-flag", []string{"license", "bind", "L1", "--devcie", "d"}, []string{
			"error: usage: flag provided but not defined: -devcie",
			"usage: tollgatectl license bind ID --device DEV [--expire-replaced]"}},
		{"missing-argument", []string{"license", "show"}, []string{
			"error: usage: license show: want 1 argument(s), got 0",
			"usage: tollgatectl license show ID|SERIAL"}},
		{"typo-verb", []string{"license", "bnid", "L1"}, []string{
			`error: usage: unknown command "license bnid"; did you mean "license bind"?`,
			"usage: tollgatectl COMMAND [flags]   (tollgatectl -h lists the commands)"}},
		{"typo-group", []string{"licnse"}, []string{
			`error: usage: unknown command "licnse"; did you mean "license"?`,
			"usage: tollgatectl COMMAND [flags]   (tollgatectl -h lists the commands)"}},
		{"nothing-close", []string{"frobnicate"}, []string{
			`error: usage: unknown command "frobnicate"`,
			"usage: tollgatectl COMMAND [flags]   (tollgatectl -h lists the commands)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(tc.args...)
			if code != 2 || out != "" || errOut != strings.Join(tc.want, "\n")+"\n" {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant exit 2, stderr:\n%s", code, out, errOut, strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestHelpGoesToStdout checks -h on a command prints its synopsis and flags
// on stdout, exit 0, nothing on stderr.
func TestHelpGoesToStdout(t *testing.T) {
	code, out, errOut := run("license", "bind", "-h")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: tollgatectl license bind ID --device DEV") || !strings.Contains(out, "-expire-replaced") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = run("inspect", "-h")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: tollgatectl inspect FILE|TOKEN") {
		t.Fatalf("inspect -h: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestEveryCommandHasASynopsis walks the table: every command's synopsis
// starts with its name, and -h prints it.
func TestEveryCommandHasASynopsis(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range program.Commands {
		if seen[c.Name] {
			t.Fatalf("%q is in the table twice", c.Name)
		}
		seen[c.Name] = true
		if !strings.HasPrefix(c.Synopsis, c.Name) {
			t.Errorf("%q: synopsis %q does not start with the name", c.Name, c.Synopsis)
		}
		code, out, _ := run(append(strings.Fields(c.Name), "-h")...)
		if code != 0 || !strings.HasPrefix(out, "usage: tollgatectl "+c.Synopsis) {
			t.Errorf("%s -h: exit %d, stdout %q", c.Name, code, out)
		}
	}
}
