// Command tollgate-agent enforces Tollgate licenses on a device or gateway
// and publishes the samples it lets through.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tollgate-iot/tollgate/agent/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
