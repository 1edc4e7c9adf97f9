package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		line   string
	}{
		{"ok", nil, ExitOK, ""},
		{"coded", Errorf("not_found", "license %s", "x"), ExitError, "error: not_found: license x\n"},
		{"wrapped-coded", fmt.Errorf("ctx: %w", Errorf("conflict", "a\nb")), ExitError, "error: conflict: a b\n"},
		{"usage", Usagef("missing --data"), ExitUsage, "error: usage: missing --data\n"},
		{"plain", errors.New("boom"), ExitError, "error: internal: boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if got := Report(&buf, tt.err); got != tt.status {
				t.Fatalf("status %d, want %d", got, tt.status)
			}
			if buf.String() != tt.line {
				t.Fatalf("printed %q, want %q", buf.String(), tt.line)
			}
		})
	}
}

func TestParseEnvFallback(t *testing.T) {
	t.Setenv("TOLLGATE_DATA", "/from/env")
	fs := NewFlagSet("x", &bytes.Buffer{})
	data := fs.String("data", "", "")
	if err := Parse(fs, nil, map[string]string{"data": "TOLLGATE_DATA"}); err != nil {
		t.Fatal(err)
	}
	if *data != "/from/env" {
		t.Fatalf("data = %q, want the env value", *data)
	}
	fs = NewFlagSet("x", &bytes.Buffer{})
	data = fs.String("data", "", "")
	if err := Parse(fs, []string{"--data", "/flag"}, map[string]string{"data": "TOLLGATE_DATA"}); err != nil {
		t.Fatal(err)
	}
	if *data != "/flag" {
		t.Fatalf("data = %q, the flag must win over the env", *data)
	}
	t.Setenv("TOLLGATE_SERVER", "http://x")
	fs = NewFlagSet("x", &bytes.Buffer{})
	if err := Parse(fs, nil, map[string]string{"server": "TOLLGATE_SERVER"}); err != nil {
		t.Fatalf("an env var for a flag this command lacks broke parsing: %v", err)
	}
	fs = NewFlagSet("x", &bytes.Buffer{})
	var u *UsageError
	if err := Parse(fs, []string{"--nope"}, nil); !errors.As(err, &u) {
		t.Fatalf("unknown flag gave %v, want a usage error", err)
	}
}

func TestRender(t *testing.T) {
	rows := [][]string{{"a", "1"}, {"b,c", "2"}}
	var buf bytes.Buffer
	if err := Render(&buf, CSV, nil, []string{"ID", "N"}, rows); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "ID,N\na,1\n\"b,c\",2\n" {
		t.Fatalf("csv = %q", buf.String())
	}
	buf.Reset()
	if err := Render(&buf, JSON, map[string]int{"n": 2}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(buf.String()) != "{\n  \"n\": 2\n}" {
		t.Fatalf("json = %q", buf.String())
	}
	buf.Reset()
	if err := Render(&buf, Table, nil, []string{"ID", "N"}, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "ID   N\na    1\n") {
		t.Fatalf("table = %q", buf.String())
	}
	var f Format
	if err := f.Set("yaml"); err == nil {
		t.Fatal("Format accepted yaml")
	}
}
