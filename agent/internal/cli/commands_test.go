package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestCommandTable: every command of the table has a name, a summary, a
// synopsis that starts with its name, and a run function; no name twice.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands() {
		if c.Name == "" || c.Summary == "" || c.Run == nil || !strings.HasPrefix(c.Synopsis, c.Name+" ") {
			t.Errorf("command %q is incomplete: %+v", c.Name, c)
		}
		if seen[c.Name] {
			t.Errorf("command %q twice", c.Name)
		}
		seen[c.Name] = true
	}
}

// TestUsageErrorIsOneLineAndSynopsis: a usage error prints the error line
// and the command's synopsis on stderr (not the flag list, not the error
// twice), nothing on stdout, and exits 2.
func TestUsageErrorIsOneLineAndSynopsis(t *testing.T) {
	tests := []struct {
		name string
		args []string
		line string
	}{
		{"unknown-flag", []string{"init", "--data", "x", "--bogus"}, "error: usage: flag provided but not defined: -bogus"},
		{"missing-flag", []string{"init", "--data", "x", "--model", "m"}, "error: usage: init: --data, --device-id and --model are required"},
		{"bad-value", []string{"status", "--data", "x", "-o", "yaml"}, "error: usage: invalid value \"yaml\" for flag -o: output format must be table, json or csv, not \"yaml\""},
		{"activate-no-arg", []string{"activate", "--data", "x"}, "error: usage: activate: want --data DIR and one FILE, TOKEN, SERIAL or CODE"},
		{"trust-no-file", []string{"trust", "--data", "x"}, "error: usage: trust: want --data DIR --trust FILE"},
		{"mistyped-flag", []string{"trust", "--data", "x", "--trsut", "f"}, "error: usage: flag provided but not defined: -trsut (did you mean --trust?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if code != 2 || stdout != "" || len(lines) != 2 {
				t.Fatalf("exit %d, stdout %q, stderr %q: want 2, nothing, two lines", code, stdout, stderr)
			}
			var syn string
			for _, c := range commands() {
				if c.Name == tt.args[0] {
					syn = "usage: tollgate-agent " + c.Synopsis
				}
			}
			if lines[0] != tt.line || lines[1] != syn {
				t.Fatalf("stderr\n%s\nwant\n%s\n%s", stderr, tt.line, syn)
			}
		})
	}
}

// TestUnknownCommandSuggests: a mistyped command names the closest one; a
// name far from every command gets no guess.
func TestUnknownCommandSuggests(t *testing.T) {
	tests := []struct {
		name, arg, want string
	}{
		{"transposed", "stauts", `(did you mean "status"?)`},
		{"missing-letter", "activte", `(did you mean "activate"?)`},
		{"extra-letter", "innit", `(did you mean "init"?)`},
		{"far", "frobnicate", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.arg)
			first := strings.SplitN(stderr, "\n", 2)[0]
			if code != 2 || !strings.HasPrefix(first, `error: usage: unknown command "`+tt.arg+`"`) {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if tt.want == "" && strings.Contains(first, "did you mean") || !strings.HasSuffix(first, tt.want) {
				t.Fatalf("stderr %q, want suffix %q", first, tt.want)
			}
			if strings.Count(stderr, "\n") != 2 {
				t.Fatalf("stderr is not two lines: %q", stderr)
			}
		})
	}
}

// TestHelpGoesToStdout: -h of the program and of every command prints to
// stdout and exits 0; a command's -h starts with its synopsis, and
// activate's names its argument forms.
func TestHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}} {
		code, stdout, stderr := run(t, args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "  trust ") {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	for _, c := range commands() {
		t.Run(c.Name, func(t *testing.T) {
			code, stdout, stderr := run(t, c.Name, "-h")
			if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "usage: tollgate-agent "+c.Synopsis+"\n") ||
				!strings.Contains(stdout, "\nflags:\n") {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
	}
	_, stdout, _ := run(t, "activate", "-h")
	for _, form := range []string{"FILE ", "TOKEN ", "SERIAL ", "CODE "} {
		if !strings.Contains(stdout, "\n  "+form) {
			t.Errorf("activate -h does not explain %s:\n%s", form, stdout)
		}
	}
}

// TestInitTwiceNamesTheHeldDevice: a second init over a data directory
// names the device the directory holds, not the one asked for; one with
// --trust names the command that pins the bundle into it.
func TestInitTwiceNamesTheHeldDevice(t *testing.T) {
	data, _ := initAgent(t)
	code, _, stderr := run(t, "init", "--data", data, "--device-id", "pump-2", "--model", "TG-200")
	want := "error: already_initialized: data directory already initialized: it holds device pump-1 (model TG-100); give pump-2 another --data directory\n"
	if code != 1 || stderr != want {
		t.Fatalf("second init: exit %d, stderr %q, want %q", code, stderr, want)
	}
	trust := filepath.Join(t.TempDir(), "trust.json")
	os.WriteFile(trust, testkit.TrustBundle(t), 0o644)
	code, _, stderr = run(t, "init", "--data", data, "--device-id", "pump-1", "--model", "TG-100", "--trust", trust)
	want = "error: already_initialized: data directory already initialized: it holds device pump-1 (model TG-100) already; " +
		"to pin the trust bundle into it: tollgate-agent trust --data " + data + " --trust " + trust + "\n"
	if code != 1 || stderr != want {
		t.Fatalf("init --trust again: exit %d, stderr %q, want %q", code, stderr, want)
	}
}

// TestTrustPinnedAfterInit: an agent initialized without --trust refuses
// tokens naming the trust command; trust pins the bundle and activate then
// works. A different bundle is refused without --replace, accepted with
// it, and the same bundle again is unchanged.
func TestTrustPinnedAfterInit(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	code, stdout, stderr := run(t, "init", "--data", data, "--device-id", "pump-1", "--model", "TG-100", "-o", "json")
	if code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	var id map[string]string
	json.Unmarshal([]byte(stdout), &id)
	pub, err := token.ParsePublicKey(id["public_key"])
	if err != nil {
		t.Fatal(err)
	}
	_, lic := testkit.License(t, "pump-1", pub, nil)
	code, _, stderr = run(t, "activate", "--data", data, lic)
	if code != 1 || !strings.HasPrefix(stderr, "error: no_trust: ") || !strings.Contains(stderr, "tollgate-agent trust --data DIR --trust FILE") {
		t.Fatalf("activate without trust: exit %d, stderr %q", code, stderr)
	}
	trust := filepath.Join(dir, "trust.json")
	os.WriteFile(trust, testkit.TrustBundle(t), 0o644)
	other := filepath.Join(dir, "other.json")
	ot, _ := token.NewTrust(testkit.Pub("other-server"))
	os.WriteFile(other, token.MarshalTrustBundle(ot), 0o644)

	steps := []struct {
		name   string
		args   []string
		code   int
		result string // RESULT column, or the error prefix
	}{
		{"pin", []string{"trust", "--data", data, "--trust", trust}, 0, "pinned"},
		{"same-again", []string{"trust", "--data", data, "--trust", trust}, 0, "unchanged"},
		{"other-without-replace", []string{"trust", "--data", data, "--trust", other}, 1, "error: trust_pinned: "},
		{"other-with-replace", []string{"trust", "--data", data, "--trust", other, "--replace"}, 0, "replaced"},
		{"back", []string{"trust", "--data", data, "--trust", trust, "--replace"}, 0, "replaced"},
	}
	for _, s := range steps {
		code, stdout, stderr := run(t, append(s.args, "-o", "json")...)
		if code != s.code {
			t.Fatalf("%s: exit %d, stderr %q", s.name, code, stderr)
		}
		if code != 0 {
			if !strings.HasPrefix(stderr, s.result) || !strings.Contains(stderr, "--replace") {
				t.Fatalf("%s: stderr %q", s.name, stderr)
			}
			continue
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || res["result"] != s.result {
			t.Fatalf("%s: %q (%v), want result %s", s.name, stdout, err, s.result)
		}
	}
	if code, _, stderr := run(t, "activate", "--data", data, lic); code != 0 {
		t.Fatalf("activate after trust: exit %d, stderr %q", code, stderr)
	}
	// With a revocation list held, a bundle without its signer is refused
	// even with --replace: replacing trust must not drop a revocation.
	_, rev := testkit.Revocation(t, 1, nil, nil, nil)
	if code, _, stderr := run(t, "activate", "--data", data, rev); code != 0 {
		t.Fatalf("activate revocation list: %d %q", code, stderr)
	}
	if code, _, stderr := run(t, "trust", "--data", data, "--trust", other, "--replace"); code != 1 || !strings.HasPrefix(stderr, "error: trust_mismatch: ") {
		t.Fatalf("replace dropping the revocation signer: exit %d, stderr %q", code, stderr)
	}
}

// FuzzSuggest: any typed name, however long or strange, gets an answer
// that is a command or nothing, within the distance bound.
func FuzzSuggest(f *testing.F) {
	for _, s := range []string{"stauts", "activte", "", "frobnicate", "ïnit", strings.Repeat("x", 1000)} {
		f.Add(s)
	}
	cmds := commands()
	f.Fuzz(func(t *testing.T, typed string) {
		s := suggest(typed, cmds)
		if s == "" {
			return
		}
		if d := editDistance(typed, s); d > limits.CommandSuggestDistance && len(typed) <= limits.MaxCommandNameBytes {
			t.Fatalf("suggest(%q) = %q at distance %d", typed, s, d)
		}
		found := false
		for _, c := range cmds {
			found = found || c.Name == s
		}
		if !found {
			t.Fatalf("suggest(%q) = %q, not a command", typed, s)
		}
	})
}
