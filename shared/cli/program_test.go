package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestProgramRun(t *testing.T) {
	var got []string
	p := Program[string]{Name: "tg"}
	p.Register("ping", Command[string]{Summary: "answers", Run: func(_ context.Context, env string, args []string) error {
		got = append([]string{env}, args...)
		return nil
	}})
	p.Register("fail", Command[string]{Summary: "fails", Run: func(context.Context, string, []string) error {
		return Errorf("not_found", "nothing here")
	}})
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"ok", []string{"ping", "a", "b"}, ExitOK, ""},
		{"help", []string{"-h"}, ExitOK, "usage: tg COMMAND"},
		{"no-command", nil, ExitUsage, "usage: tg COMMAND"},
		{"unknown", []string{"pong"}, ExitUsage, `error: usage: unknown command "pong"`},
		{"command-error", []string{"fail"}, ExitError, "error: not_found: nothing here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := p.Run(context.Background(), "env", tt.args, &stderr); code != tt.status {
				t.Fatalf("status %d, want %d", code, tt.status)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
		})
	}
	if strings.Join(got, ",") != "env,a,b" {
		t.Fatalf("ping got %v", got)
	}
}

func TestProgramRegisterTwicePanics(t *testing.T) {
	p := Program[int]{Name: "x"}
	p.Register("a", Command[int]{})
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("second Register of the same name did not panic")
		}
	}()
	p.Register("a", Command[int]{})
}
