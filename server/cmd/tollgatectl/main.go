// Command tollgatectl is the Tollgate admin CLI over the REST API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tollgate-iot/tollgate/server/internal/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
