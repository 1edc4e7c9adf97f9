// Command tollgate-certs writes the development CA, the server certificate
// and device client certificates (make certs). Running it twice changes
// nothing.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/tollgate-iot/tollgate/certs"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := cli.NewFlagSet("tollgate-certs", os.Stderr)
	out := fs.String("out", "certs/dev", "output directory")
	devices := fs.String("devices", "dev-0001,dev-0002,dev-0003", "comma-separated device ids that get client certificates")
	hosts := fs.String("hosts", strings.Join(certs.DefaultHosts, ","), "comma-separated DNS names and IPs of the server certificate")
	if err := cli.Parse(fs, args, nil); err != nil {
		return cli.Report(os.Stderr, err)
	}
	if fs.NArg() > 0 {
		return cli.Report(os.Stderr, cli.Usagef("unexpected argument %q", fs.Arg(0)))
	}
	res, err := certs.Generate(*out, certs.Options{Devices: split(*devices), Hosts: split(*hosts)})
	if err != nil {
		return cli.Report(os.Stderr, cli.Errorf("certs", "%v", err))
	}
	if len(res.Written) == 0 {
		fmt.Printf("certificates in %s are up to date\n", *out)
		return 0
	}
	fmt.Printf("wrote %s in %s\n", strings.Join(res.Written, ", "), *out)
	return 0
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
