// Package ctl implements tollgatectl, the admin CLI over the REST API
// (docs/api.md); its commands are the table in commands.go. Every command takes --server and --api-key (env
// TOLLGATE_SERVER, TOLLGATE_API_KEY) and -o table|json|csv.
package ctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/cli"
)

// DefaultServer is the server URL when neither --server nor TOLLGATE_SERVER is set.
const DefaultServer = "http://127.0.0.1:8080"

var envVars = map[string]string{"server": "TOLLGATE_SERVER", "api-key": "TOLLGATE_API_KEY", "ca": "TOLLGATE_CA"}

// cmd is one REST command of the table in commands.go.
type cmd struct {
	// name is "GROUP VERB" (or one word, "whoami").
	name string
	// synopsis is the command line after "tollgatectl"; a note in
	// parentheses after three spaces says what the command does.
	synopsis string
	run      func(ctx context.Context, x *invocation) error
	// flags registers the command's own flags.
	flags func(fs *flag.FlagSet, v *vals)
	// args is the number of positional arguments (ids).
	args int
}

// vals holds every flag value a command may register.
type vals struct {
	s map[string]*string
	i map[string]*int64
	b map[string]*bool
}

func (v *vals) str(fs *flag.FlagSet, name, usage string) {
	v.s[name] = fs.String(name, "", usage)
}
func (v *vals) num(fs *flag.FlagSet, name, usage string) { v.i[name] = fs.Int64(name, 0, usage) }
func (v *vals) flag(fs *flag.FlagSet, name, usage string) {
	v.b[name] = fs.Bool(name, false, usage)
}

// invocation is one parsed command line.
type invocation struct {
	c      *Client
	out    io.Writer
	errw   io.Writer
	format cli.Format
	args   []string
	v      *vals
	set    map[string]bool
}

func (x *invocation) s(name string) string { return *x.v.s[name] }
func (x *invocation) n(name string) int64  { return *x.v.i[name] }
func (x *invocation) b(name string) bool   { return *x.v.b[name] }

// ctlEnv is what the dispatcher hands every command: the output streams
// and the global flags given before the command.
type ctlEnv struct {
	stdout, stderr io.Writer
	lead           []string
}

// program is tollgatectl: the REST commands of the table, each parsing the
// common flags, and inspect, which needs no server.
var program = newProgram()

func newProgram() *cli.Program[*ctlEnv] {
	p := &cli.Program[*ctlEnv]{Name: "tollgatectl"}
	for _, c := range commands {
		p.Commands = append(p.Commands, cli.Command[*ctlEnv]{Name: c.name, Synopsis: c.synopsis,
			Run: func(ctx context.Context, e *ctlEnv, args []string) error {
				return execute(ctx, c, append(args, e.lead...), e.stdout, e.stderr)
			}})
	}
	p.Commands = append(p.Commands, cli.Command[*ctlEnv]{Name: "inspect",
		Synopsis: "inspect FILE|TOKEN [--trust FILE] [--public-key KEY]   (print an air-gap file or tg1 document and whether its signature verifies; no server needed)",
		Run:      runInspect})
	return p
}

// Run runs tollgatectl with args (without the program name) and returns
// the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Global flags (--server, --api-key, --ca, -o) may also come before the command.
	var lead []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		lead, args = append(lead, args[0]), args[1:]
		if !strings.Contains(lead[len(lead)-1], "=") && len(args) > 0 {
			lead, args = append(lead, args[0]), args[1:]
		}
	}
	code := program.Main(ctx, &ctlEnv{stdout: stdout, stderr: stderr, lead: lead}, args, stdout, stderr)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" && len(args) == 1 {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprintln(w, "Every command takes --server, --api-key, --ca and -o table|json|csv (env TOLLGATE_SERVER, TOLLGATE_API_KEY, TOLLGATE_CA).")
	}
	return code
}

func execute(ctx context.Context, c cmd, args []string, stdout, stderr io.Writer) error {
	fs := cli.Flags(c.name)
	server := fs.String("server", DefaultServer, "server URL (env TOLLGATE_SERVER)")
	key := fs.String("api-key", "", "API key (env TOLLGATE_API_KEY)")
	ca := fs.String("ca", "", "CA certificate(s) to trust for an https server (env TOLLGATE_CA)")
	format := cli.OutputFlag(fs)
	v := &vals{s: map[string]*string{}, i: map[string]*int64{}, b: map[string]*bool{}}
	if c.flags != nil {
		c.flags(fs, v)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != c.args {
		return cli.Usagef("%s: want %d argument(s), got %d", c.name, c.args, len(pos))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	client, err := NewClient(*server, *key, *ca)
	if err != nil {
		return err
	}
	return c.run(ctx, &invocation{c: client, out: stdout, errw: stderr, format: *format, args: pos, v: v, set: set})
}

// parseInterleaved parses flags that may come before or after the
// positional arguments ("license bind ID --device D").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := cli.Parse(fs, args, envVars); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
