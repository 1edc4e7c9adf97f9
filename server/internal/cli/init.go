package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

// parseDataCommand parses the flags of a command that works on a data
// directory and takes no arguments: --data is required.
func parseDataCommand(fs *flag.FlagSet, args []string) error {
	if err := cli.Parse(fs, args, envVars); err != nil {
		return err
	}
	if fs.Lookup("data").Value.String() == "" {
		return cli.Usagef("--data is required")
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// initResult is what init prints: the admin API key appears this once.
type initResult struct {
	RootCustomerID string `json:"root_customer_id"`
	AdminAPIKey    string `json:"admin_api_key"`
	KeyID          string `json:"key_id"`
}

func runInit(ctx context.Context, env *IO, args []string) error {
	fs := cli.Flags("init")
	data := fs.String("data", "", "server data directory (env TOLLGATE_DATA)")
	spec := fs.String("store", "badger", storeUsage)
	name := fs.String("name", "vendor", "name of the root (vendor) customer")
	email := fs.String("email", "admin@localhost", "email of the first admin user")
	out := cli.OutputFlag(fs)
	if err := parseDataCommand(fs, args); err != nil {
		return err
	}
	ks, err := keys.Open(*data, env.Clock)
	if err != nil {
		return app.KeyStoreError(err)
	}
	if _, err := ks.Active(); errors.Is(err, keys.ErrNoKeys) {
		if _, err := ks.Rotate(); err != nil {
			return app.KeyStoreError(err)
		}
	} else if err != nil {
		return app.KeyStoreError(err)
	}
	signer, err := ks.Active()
	if err != nil {
		return app.KeyStoreError(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := openStore(env, *data, *spec)
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	defer db.Close()
	lg, err := ledger.New(ledger.Options{DB: db, Clock: env.Clock, Keys: ks, Logger: quiet})
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	root, _, key, err := lg.Bootstrap(ctx, *name, *email)
	if errors.Is(err, ledger.ErrAlreadyInitialized) {
		return cli.Errorf("already_initialized", "%s is already initialized; the admin key was printed then", *data)
	}
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	res := initResult{RootCustomerID: root.ID, AdminAPIKey: key, KeyID: signer.KeyID()}
	rows := [][]string{{"root_customer_id", res.RootCustomerID}, {"admin_api_key", res.AdminAPIKey}, {"key_id", res.KeyID}}
	if err := cli.Render(env.Stdout, *out, res, []string{"FIELD", "VALUE"}, rows); err != nil {
		return err
	}
	if *out == cli.Table {
		fmt.Fprintln(env.Stderr, "The admin API key is shown this once; store it now (TOLLGATE_API_KEY).")
	}
	return nil
}
