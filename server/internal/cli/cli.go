// Package cli implements the tollgate-server command line.
package cli

import (
	"context"
	"io"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// envVars names the environment variables that mirror flags.
var envVars = map[string]string{"data": "TOLLGATE_DATA"}

// Command is one subcommand.
type Command = cli.Command[*IO]

// IO carries what every subcommand needs: its output streams and clock.
type IO struct {
	Stdout, Stderr io.Writer
	Clock          clock.Clock
}

var program = cli.Program[*IO]{Name: "tollgate-server"}

func register(name string, c Command) { program.Register(name, c) }

// Run runs tollgate-server with args (without the program name) and returns
// the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return program.Run(ctx, &IO{Stdout: stdout, Stderr: stderr, Clock: clock.Real{}}, args, stderr)
}
