package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/token"
)

func runKeysList(ctx context.Context, io *IO, args []string) error {
	return keysCommand(io, "list", args)
}

func runKeysRotate(ctx context.Context, io *IO, args []string) error {
	return keysCommand(io, "rotate", args)
}

// keysCommand lists the signing keys, after rotating them for "rotate".
func keysCommand(io *IO, verb string, args []string) error {
	fs := cli.Flags("keys " + verb)
	data := fs.String("data", "", "server data directory (env TOLLGATE_DATA)")
	out := cli.OutputFlag(fs)
	if err := parseDataCommand(fs, args); err != nil {
		return err
	}
	if err := app.CheckDataDir(*data); err != nil {
		return err
	}
	st, err := keys.Open(*data, io.Clock)
	if err != nil {
		return app.KeyStoreError(err)
	}
	if verb == "rotate" {
		if _, err := st.Rotate(); err != nil {
			return app.KeyStoreError(err)
		}
	}
	infos, err := st.List()
	if err != nil {
		return app.KeyStoreError(err)
	}
	rows := make([][]string, 0, len(infos))
	for _, in := range infos {
		active := ""
		if in.Active {
			active = "active"
		}
		rows = append(rows, []string{in.ID, in.Created.UTC().Format(time.RFC3339), active, in.PublicKey})
	}
	return cli.Render(io.Stdout, *out, map[string]any{"keys": infos}, []string{"ID", "CREATED", "STATUS", "PUBLIC_KEY"}, rows)
}

func runTrust(ctx context.Context, io *IO, args []string) error {
	fs := cli.Flags("trust")
	data := fs.String("data", "", "server data directory (env TOLLGATE_DATA)")
	outPath := fs.String("out", "", "file to write the trust bundle to (- for stdout)")
	if err := cli.Parse(fs, args, envVars); err != nil {
		return err
	}
	if *data == "" || *outPath == "" {
		return cli.Usagef("--data and --out are required")
	}
	if err := app.CheckDataDir(*data); err != nil {
		return err
	}
	st, err := keys.Open(*data, io.Clock)
	if err != nil {
		return app.KeyStoreError(err)
	}
	trust, err := st.Trust()
	if err != nil {
		return app.KeyStoreError(err)
	}
	bundle := token.MarshalTrustBundle(trust)
	if *outPath == "-" {
		_, err := io.Stdout.Write(bundle)
		return err
	}
	if err := os.WriteFile(*outPath, bundle, 0o644); err != nil {
		return cli.Errorf("io", "%v", err)
	}
	fmt.Fprintf(io.Stdout, "wrote trust bundle with %d key(s) to %s\n", len(trust.IDs()), *outPath)
	return nil
}
