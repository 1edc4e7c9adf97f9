package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  error
	}{
		{"3d", 72 * time.Hour, nil},
		{"2d12h", 60 * time.Hour, nil},
		{"90m", 90 * time.Minute, nil},
		{"0d", 0, nil},
		{"", 0, ErrDuration},
		{"d", 0, ErrDuration},
		{"-1d", 0, ErrDuration},
		{"+1d", 0, ErrDuration},
		{"01d", 0, ErrDuration},
		{"1d-1h", 0, ErrDuration},
		{"1.5d", 0, ErrDuration},
		{"1dd", 0, ErrDuration},
		{"100001d", 0, ErrDuration},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"3d", "2d12h", "90m", "1d-1h", "01d", "9223372036854775807d", "100000d99999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v", s, d)
		}
	})
}

func runMain(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), IO{Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// TestUsageErrors: every bad flag exits 2 with an error line naming it.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no-agents", nil, "--agent URL or --data DIR"},
		{"rate-zero", []string{"--agent", "127.0.0.1:1", "--rate", "0"}, "--rate 0"},
		{"rate-high", []string{"--agent", "127.0.0.1:1", "--rate", "100001"}, "--rate 100001"},
		{"pattern", []string{"--agent", "127.0.0.1:1", "--pattern", "random"}, "unknown pattern"},
		{"duration", []string{"--agent", "127.0.0.1:1", "--duration", "soon"}, "--duration"},
		{"duration-short", []string{"--agent", "127.0.0.1:1", "--duration", "10s"}, "--duration 10s"},
		{"speed", []string{"--agent", "127.0.0.1:1", "--clock-speed", "0.5"}, "--clock-speed 0.5"},
		{"speed-nan", []string{"--agent", "127.0.0.1:1", "--clock-speed", "NaN"}, "--clock-speed NaN"},
		{"too-slow", []string{"--agent", "127.0.0.1:1", "--duration", "300d"}, "of real time"},
		{"origin", []string{"--agent", "127.0.0.1:1", "--clock-origin", "yesterday"}, "--clock-origin"},
		{"origin-old", []string{"--agent", "127.0.0.1:1", "--clock-origin", "2020-01-01T00:00:00Z"}, "last 30 days"},
		{"devices", []string{"--agent", "127.0.0.1:1", "--devices", "-1"}, "--devices -1"},
		{"bridge", []string{"--agent", "127.0.0.1:1", "--bridge", "http://127.0.0.1:1883"}, "tcp://HOST:PORT"},
		{"tick", []string{"--agent", "127.0.0.1:1", "--tick", "1ms"}, "--tick"},
		{"output", []string{"--agent", "127.0.0.1:1", "-o", "yaml"}, "output format"},
		{"extra-arg", []string{"--agent", "127.0.0.1:1", "now"}, "unexpected argument"},
		{"unknown-flag", []string{"--agnet", "127.0.0.1:1"}, "flag provided but not defined: -agnet"},
		{"gateways-not-a-number", []string{"--agent", "127.0.0.1:1", "--gateways", "all"}, "invalid value \"all\" for flag -gateways"},
		{"local-broker-public", []string{"--local-broker", "0.0.0.0:1883"}, "loopback only"},
		{"local-broker-and-agent", []string{"--local-broker", "127.0.0.1:0", "--agent", "127.0.0.1:1"}, "nothing else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runMain(tc.args...)
			// One error line, then the synopsis: never the flag list.
			line, rest, _ := strings.Cut(errs, "\n")
			if code != 2 || out != "" || !strings.HasPrefix(line, "error: usage: ") || !strings.Contains(line, tc.want) || rest != synopsis {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2, one usage line with %q and the synopsis", code, out, errs, tc.want)
			}
		})
	}
}

// TestHelp: -h prints the help on stdout and exits 0; no flag whose help
// states its default ("(default: all)") gets a second, contradicting one.
func TestHelp(t *testing.T) {
	code, out, errs := runMain("-h")
	if code != 0 || errs != "" || !strings.HasPrefix(out, synopsis) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Count(line, "(default") > 1 {
			t.Errorf("two defaults: %q", line)
		}
	}
	if !strings.Contains(out, "-gateways G\n") {
		t.Errorf("--gateways has no argument name:\n%s", out)
	}
}

func TestRuntimeErrors(t *testing.T) {
	code, _, errs := runMain("--data", t.TempDir())
	if code != 1 || !strings.HasPrefix(errs, "error: not_running: ") {
		t.Fatalf("data dir without agent: exit %d, %q", code, errs)
	}
	code, _, errs = runMain("--agent", "unix:/nonexistent/agent.sock")
	if code != 1 || !strings.HasPrefix(errs, "error: agent_status: ") {
		t.Fatalf("agent not answering: exit %d, %q", code, errs)
	}
}
