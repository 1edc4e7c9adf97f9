// Package cli implements the tollgate-agent command line (docs/api.md): the
// command table (commands.go), one file per command, and the dispatch that
// reports errors as one line "error: CODE: message".
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// programName is how usage lines name the binary.
const programName = "tollgate-agent"

// envVars names the environment variables that mirror flags.
var envVars = map[string]string{
	"data":    "TOLLGATE_DATA",
	"server":  "TOLLGATE_SERVER",
	"broker":  "TOLLGATE_BROKER",
	"ingest":  "TOLLGATE_INGEST",
	"metrics": "TOLLGATE_METRICS",
	"bridge":  "TOLLGATE_BRIDGE",
	"certs":   "TOLLGATE_CERTS",
	"config":  "TOLLGATE_CONFIG",
	"trust":   "TOLLGATE_TRUST",

	"local-token-file": envLocalTokenFile,
}

// envLocalTokenFile names the local API token file for `run` and for the
// commands that talk to a running agent.
const envLocalTokenFile = "TOLLGATE_LOCAL_TOKEN_FILE"

// Command is one subcommand of tollgate-agent.
type Command struct {
	Name string
	// Summary is the one line of the command list.
	Summary string
	// Synopsis is the command line's shape, printed with -h and under a
	// usage error.
	Synopsis string
	// Help, if set, is printed with -h between the synopsis and the flags.
	Help string
	Run  func(ctx context.Context, env *IO, args []string) error
}

// IO carries what every subcommand needs.
type IO struct {
	Stdout, Stderr io.Writer
	Clock          clock.Clock
	Logger         *slog.Logger

	// cmd is the command being run, for its -h text.
	cmd *Command
}

// Run runs tollgate-agent with args (without the program name) and returns
// the exit status: 0, 1 for a command's error, 2 for a usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return dispatch(ctx, &IO{Stdout: stdout, Stderr: stderr, Clock: clock.Real{}}, args)
}

func dispatch(ctx context.Context, env *IO, args []string) int {
	cmds := commands()
	if len(args) == 0 {
		usage(env.Stderr, cmds)
		return cli.ExitUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout, cmds)
		return cli.ExitOK
	}
	for i := range cmds {
		if cmds[i].Name == args[0] {
			env.cmd = &cmds[i]
			return report(env, cmds[i].Run(ctx, env, args[1:]))
		}
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := suggest(args[0], cmds); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	cli.Report(env.Stderr, cli.Usagef("%s", msg))
	fmt.Fprintf(env.Stderr, "Run '%s -h' for the list of commands.\n", programName)
	return cli.ExitUsage
}

// report prints a command's error as one line; a usage error is followed
// by the command's synopsis.
func report(env *IO, err error) int {
	code := cli.Report(env.Stderr, err)
	if code == cli.ExitUsage && env.cmd != nil {
		fmt.Fprintf(env.Stderr, "usage: %s %s\n", programName, env.cmd.Synopsis)
	}
	return code
}

// usage lists the commands with their summaries.
func usage(w io.Writer, cmds []Command) {
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s COMMAND [flags]\n\ncommands:\n", programName)
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprintf(&b, "\nRun %s COMMAND -h for the synopsis and flags of one command.\n", programName)
	io.WriteString(w, b.String())
}

// suggest returns the command closest to a mistyped name, or "".
func suggest(name string, cmds []Command) string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.Name
	}
	return closest(name, names)
}

// closest returns the name nearest to a mistyped one, or "" when none is
// within limits.CommandSuggestDistance edits.
func closest(typed string, names []string) string {
	best, bestD := "", limits.CommandSuggestDistance+1
	for _, n := range names {
		if d := editDistance(typed, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (command names are ASCII); a longer input than any command name is cut
// to limits.MaxCommandNameBytes first so the work stays bounded.
func editDistance(a, b string) int {
	if len(a) > limits.MaxCommandNameBytes {
		a = a[:limits.MaxCommandNameBytes]
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// newFlagSet returns a flag set that prints nothing itself: parse reports
// its errors as one line and prints -h to stdout.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args into fs with the TOLLGATE_* fallbacks. -h prints the
// command's synopsis, help and flags to stdout and returns flag.ErrHelp
// (exit 0).
func parse(env *IO, fs *flag.FlagSet, args []string) error {
	err := cli.Parse(fs, args, envVars)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(env, fs)
	}
	var ue *cli.UsageError
	if errors.As(err, &ue) {
		if name, ok := strings.CutPrefix(ue.Msg, "flag provided but not defined: -"); ok {
			var names []string
			fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
			if s := closest(name, names); s != "" {
				return cli.Usagef("%s (did you mean --%s?)", ue.Msg, s)
			}
		}
	}
	return err
}

func printHelp(env *IO, fs *flag.FlagSet) {
	if env.cmd != nil {
		fmt.Fprintf(env.Stdout, "usage: %s %s\n\n%s\n", programName, env.cmd.Synopsis, env.cmd.Summary)
		if env.cmd.Help != "" {
			fmt.Fprintf(env.Stdout, "\n%s\n", env.cmd.Help)
		}
	}
	fmt.Fprintln(env.Stdout, "\nflags:")
	fs.SetOutput(env.Stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// errorCode turns a domain error into a *cli.Error with its stable code.
func errorCode(err error) error {
	var ce *cli.Error
	var ue *cli.UsageError
	if err == nil || errors.As(err, &ce) || errors.As(err, &ue) {
		return err
	}
	if errors.Is(err, errRemote) {
		return &cli.Error{Code: "agent_unreachable", Err: err}
	}
	return &cli.Error{Code: runtime.ErrorCode(err), Err: err}
}

// baseConfig returns the defaults with --data applied.
func baseConfig(data string) config.Config {
	c := config.Default()
	c.Data = data
	return c
}

func cliError(code, msg string) error { return cli.Errorf(code, "%s", msg) }
