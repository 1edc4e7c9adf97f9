// Package cli implements the tollgate-agent command line (INTERFACES.md).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

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
}

// Command is one subcommand.
type Command struct {
	Summary string
	Run     func(ctx context.Context, env *IO, args []string) error
}

// IO carries what every subcommand needs.
type IO struct {
	Stdout, Stderr io.Writer
	Clock          clock.Clock
	Logger         *slog.Logger
}

var commands = map[string]Command{}

func register(name string, c Command) { commands[name] = c }

// Run runs tollgate-agent with args (without the program name) and returns
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
	b.WriteString("usage: tollgate-agent COMMAND [flags]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-9s %s\n", n, commands[n].Summary)
	}
	b.WriteString("\nRun tollgate-agent COMMAND -h for the flags of one command.\n")
	io.WriteString(w, b.String())
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
