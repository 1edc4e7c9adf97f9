package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestProgramRun(t *testing.T) {
	var got []string
	p := Program[string]{Name: "tg", Commands: []Command[string]{
		{Name: "ping", Summary: "answers", Run: func(_ context.Context, env string, args []string) error {
			got = append([]string{env}, args...)
			return nil
		}},
		{Name: "fail", Summary: "fails", Run: func(context.Context, string, []string) error {
			return Errorf("not_found", "nothing here")
		}},
	}}
	tests := []struct {
		name   string
		args   []string
		status int
		stdout string
		stderr string
	}{
		{"ok", []string{"ping", "a", "b"}, ExitOK, "", ""},
		{"help", []string{"-h"}, ExitOK, "usage: tg COMMAND", ""},
		{"no-command", nil, ExitUsage, "", "usage: tg COMMAND"},
		{"unknown", []string{"pong"}, ExitUsage, "", `error: usage: unknown command "pong"`},
		{"command-error", []string{"fail"}, ExitError, "", "error: not_found: nothing here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := p.Main(context.Background(), "env", tt.args, &stdout, &stderr); code != tt.status {
				t.Fatalf("status %d, want %d", code, tt.status)
			}
			if !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("stdout %q, stderr %q; want them to contain %q and %q", stdout.String(), stderr.String(), tt.stdout, tt.stderr)
			}
		})
	}
	if strings.Join(got, ",") != "env,a,b" {
		t.Fatalf("ping got %v", got)
	}
}

// TestProgramMain: help on stdout, a usage error as one line and the
// command's synopsis, a near miss named, a group listed.
func TestProgramMain(t *testing.T) {
	p := Program[string]{Name: "tg", Commands: []Command[string]{
		{Name: "serve", Synopsis: "serve --data DIR", Summary: "serves", Run: func(_ context.Context, _ string, args []string) error {
			fs := Flags("serve")
			fs.String("data", "", "data directory")
			if err := Parse(fs, args, nil); err != nil {
				return err
			}
			return Usagef("--data is required")
		}},
		{Name: "keys list", Synopsis: "keys list --data DIR", Run: func(context.Context, string, []string) error { return nil }},
	}}
	tests := []struct {
		name           string
		args           []string
		status         int
		stdout, stderr string
	}{
		{"help", []string{"-h"}, ExitOK, "usage: tg COMMAND [flags]\n\ncommands:\n  keys list  --data DIR\n  serve      --data DIR   (serves)\n\nRun tg COMMAND -h for the flags of one command.\n", ""},
		{"command-help", []string{"serve", "-h"}, ExitOK, "usage: tg serve --data DIR\n\nserves\n\nflags:\n  -data string\n    \tdata directory\n", ""},
		{"usage-error", []string{"serve"}, ExitUsage, "", "error: usage: --data is required\nusage: tg serve --data DIR\n"},
		{"flag-error", []string{"serve", "--dta", "x"}, ExitUsage, "", "error: usage: flag provided but not defined: -dta\nusage: tg serve --data DIR\n"},
		{"typo", []string{"sevre"}, ExitUsage, "", "error: usage: unknown command \"sevre\"; did you mean \"serve\"?\nusage: tg COMMAND [flags]   (tg -h lists the commands)\n"},
		{"typo-verb", []string{"keys", "lst"}, ExitUsage, "", "error: usage: unknown command \"keys lst\"; did you mean \"keys list\"?\nusage: tg COMMAND [flags]   (tg -h lists the commands)\n"},
		{"far", []string{"zzzzzz"}, ExitUsage, "", "error: usage: unknown command \"zzzzzz\"\nusage: tg COMMAND [flags]   (tg -h lists the commands)\n"},
		{"group", []string{"keys"}, ExitUsage, "", "usage: tg keys VERB [flags]\n\n  keys list --data DIR\n"},
		{"group-help", []string{"keys", "-h"}, ExitOK, "usage: tg keys VERB [flags]\n\n  keys list --data DIR\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := p.Main(context.Background(), "", tt.args, &stdout, &stderr); code != tt.status {
				t.Fatalf("status %d, want %d", code, tt.status)
			}
			if stdout.String() != tt.stdout || stderr.String() != tt.stderr {
				t.Fatalf("stdout %q\nstderr %q\nwant %q\n     %q", stdout.String(), stderr.String(), tt.stdout, tt.stderr)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"serve", "serve", 0}, {"serv", "serve", 1}, {"sevre", "serve", 2}, {"license bnid", "license bind", 2}, {"", "abc", 3}} {
		if got := editDistance(tt.a, tt.b); got != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}
