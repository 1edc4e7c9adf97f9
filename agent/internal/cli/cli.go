// Package cli implements the tollgate-agent command line (INTERFACES.md).
package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"

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

	"local-token-file": envLocalTokenFile,
}

// envLocalTokenFile names the local API token file for `run` and for the
// commands that talk to a running agent.
const envLocalTokenFile = "TOLLGATE_LOCAL_TOKEN_FILE"

// Command is one subcommand.
type Command = cli.Command[*IO]

// IO carries what every subcommand needs.
type IO struct {
	Stdout, Stderr io.Writer
	Clock          clock.Clock
	Logger         *slog.Logger
}

var program = cli.Program[*IO]{Name: "tollgate-agent"}

func register(name string, c Command) { program.Register(name, c) }

// Run runs tollgate-agent with args (without the program name) and returns
// the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return program.Run(ctx, &IO{Stdout: stdout, Stderr: stderr, Clock: clock.Real{}}, args, stderr)
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
