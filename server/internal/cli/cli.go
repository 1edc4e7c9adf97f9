// Package cli implements the tollgate-server command line; its commands
// are the table in commands.go.
package cli

import (
	"context"
	"io"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// envVars names the environment variables that mirror flags.
var envVars = map[string]string{"data": "TOLLGATE_DATA", "store": "TOLLGATE_STORE"}

// Command is one subcommand.
type Command = cli.Command[*IO]

// IO carries what every subcommand needs: its output streams and clock.
type IO struct {
	Stdout, Stderr io.Writer
	Clock          clock.Clock
}

// Run runs tollgate-server with args (without the program name) and returns
// the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return program.Main(ctx, &IO{Stdout: stdout, Stderr: stderr, Clock: clock.Real{}}, args, stdout, stderr)
}
