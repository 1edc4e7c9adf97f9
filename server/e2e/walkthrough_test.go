// Package e2e runs the README walkthrough (docs/walkthrough.md) against the
// built binaries: tollgate-server, tollgatectl and tollgate-agent, as
// processes, on a free loopback port.
//
// go test ./server/e2e -run Walkthrough -update rewrites docs/walkthrough.md
// with the real output of the run.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
)

var update = flag.Bool("update", false, "rewrite docs/walkthrough.md with this run's output")

// docAddr is the address the walkthrough shows; the test serves on a free
// port and writes docAddr back into the recorded output.
const docAddr = "127.0.0.1:8080"

type env struct {
	t     *testing.T
	root  string // module root
	bin   string
	dir   string // working directory of the commands
	vars  map[string]string
	addr  string
	serve *harness.Proc
}

func moduleRoot(t *testing.T) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// serverPkgs are the binaries the suite runs.
var serverPkgs = []string{
	"github.com/tollgate-iot/tollgate/server/cmd/tollgate-server",
	"github.com/tollgate-iot/tollgate/server/cmd/tollgatectl",
	"github.com/tollgate-iot/tollgate/agent/cmd/tollgate-agent",
}

// build compiles the three binaries once per test binary and returns
// their directory.
func build(t *testing.T) string {
	t.Helper()
	dir, err := harness.Build(serverPkgs...)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// split tokenizes a walkthrough command line: words, "double quoted"
// strings, $VARS expanded, leading NAME=value assignments returned apart.
func (e *env) split(line string) (assign map[string]string, argv []string) {
	assign = map[string]string{}
	var cur strings.Builder
	inQuote, have := false, false
	flush := func() {
		if have {
			argv = append(argv, os.Expand(cur.String(), func(k string) string { return e.vars[k] }))
		}
		cur.Reset()
		have = false
	}
	for _, r := range line {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case r == ' ' && !inQuote:
			flush()
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	flush()
	for len(argv) > 0 && strings.Contains(argv[0], "=") && !strings.HasPrefix(argv[0], "-") {
		k, v, _ := strings.Cut(argv[0], "=")
		assign[k] = v
		argv = argv[1:]
	}
	return assign, argv
}

// run executes one walkthrough command and returns stdout+stderr and the
// exit status.
func (e *env) run(line string) (string, int) {
	e.t.Helper()
	if e.addr != "" {
		line = strings.ReplaceAll(line, docAddr, e.addr)
	}
	assign, argv := e.split(line)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(e.bin, argv[0]), argv[1:]...)
	cmd.Dir = e.dir
	cmd.Env = []string{"HOME=" + e.dir, "TOLLGATE_SERVER=http://" + e.addr, "TOLLGATE_API_KEY=" + e.vars["ADMIN_KEY"]}
	if argv[0] == "tollgate-agent" {
		cmd.Env = []string{"HOME=" + e.dir}
	}
	for k, v := range assign {
		cmd.Env = append(cmd.Env, k+"="+os.Expand(v, func(k string) string { return e.vars[k] }))
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("%s: %v", line, err)
	}
	if e.addr == "" {
		return out.String(), code
	}
	return strings.ReplaceAll(out.String(), e.addr, docAddr), code
}

// startServer runs the serve step in the background and waits for its address.
func (e *env) startServer(line string) string {
	e.t.Helper()
	_, argv := e.split(strings.TrimSuffix(line, " &"))
	for i, a := range argv {
		if a == docAddr {
			argv[i] = "127.0.0.1:0"
		}
	}
	p := harness.Start(e.t, filepath.Join(e.bin, argv[0]), argv[1:], harness.Options{Dir: e.dir, Inherit: true, Grace: 30 * time.Second})
	e.serve = p
	e.t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			e.t.Errorf("server exited with %v after SIGTERM\n%s", err, p.Stderr())
		}
	})
	line1, ok := p.NextLine(30 * time.Second)
	if !ok || !strings.HasPrefix(line1, "http: http://") {
		e.t.Fatalf("serve printed %q\n%s", line1, p.Output())
	}
	e.addr = strings.TrimPrefix(strings.TrimSpace(line1), "http: http://")
	return strings.ReplaceAll(line1+"\n", e.addr, docAddr)
}

// jsonPath reads a dotted path ("licenses.0.id") from a JSON document.
func jsonPath(t *testing.T, doc, path string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			if i >= len(x) {
				t.Fatalf("%s: index %d of %d", path, i, len(x))
			}
			v = x[i]
		}
	}
	s, ok := v.(string)
	if !ok || s == "" {
		t.Fatalf("%s is %v in\n%s", path, v, doc)
	}
	return s
}
