// Command tollgate-server is the Tollgate license server.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tollgate-iot/tollgate/server/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
