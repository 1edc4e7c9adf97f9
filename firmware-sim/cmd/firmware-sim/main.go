// Command firmware-sim drives simulated devices and gateways through real
// tollgate-agents (docs/api.md, firmware-sim/README.md).
package main

import (
	"context"
	"os"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

func main() {
	ctx, stop := cli.NotifyContext(context.Background())
	fi, err := os.Stderr.Stat()
	tty := err == nil && fi.Mode()&os.ModeCharDevice != 0
	code := cli.Main(ctx, cli.IO{Stdout: os.Stdout, Stderr: os.Stderr, Clock: clock.Real{}, Terminal: tty}, os.Args[1:])
	stop()
	os.Exit(code)
}
