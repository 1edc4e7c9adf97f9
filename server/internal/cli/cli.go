// Package cli implements the tollgate-server command line.
package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// envVars names the environment variables that mirror flags.
var envVars = map[string]string{"data": "TOLLGATE_DATA"}

// Command is one subcommand.
type Command struct {
	Summary string
	Run     func(ctx context.Context, env *IO, args []string) error
}

// IO carries what every subcommand needs: its output streams and clock.
type IO struct {
	Stdout, Stderr io.Writer
	Clock          clock.Clock
}

var commands = map[string]Command{}

func register(name string, c Command) { commands[name] = c }

// Run runs tollgate-server with args (without the program name) and returns
// the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := &IO{Stdout: stdout, Stderr: stderr, Clock: clock.Real{}}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return cli.ExitUsage
		}
		return cli.ExitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return cli.Report(stderr, cli.Usagef("unknown command %q", args[0]))
	}
	return cli.Report(stderr, c.Run(ctx, env, args[1:]))
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: tollgate-server COMMAND [flags]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-8s %s\n", n, commands[n].Summary)
	}
	b.WriteString("\nRun tollgate-server COMMAND -h for the flags of one command.\n")
	io.WriteString(w, b.String())
}
