package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

// ErrDataInUse reports a data directory whose ledger another process (a
// running server) holds open.
var ErrDataInUse = errors.New("data directory in use")

// openLedger opens the ledger of an initialized data directory for a
// command that runs while no server does.
func openLedger(env *IO, data, spec string) (*store.DB, *ledger.Ledger, error) {
	ks, err := keys.Open(data, env.Clock)
	if err != nil {
		return nil, nil, app.KeyStoreError(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := openStore(env, data, spec)
	// badger formats its lock error with %+v, so only its text names it.
	if err != nil && (errors.Is(err, syscall.EWOULDBLOCK) || strings.Contains(err.Error(), badgerLockText)) {
		return nil, nil, app.Refuse("data_in_use", ErrDataInUse, "a running tollgate-server holds %s; stop it first", app.LedgerDir(data))
	}
	if err != nil {
		return nil, nil, cli.Errorf("io", "%v", err)
	}
	lg, err := ledger.New(ledger.Options{DB: db, Clock: env.Clock, Keys: ks, Logger: quiet})
	if err != nil {
		db.Close()
		return nil, nil, cli.Errorf("io", "%v", err)
	}
	return db, lg, nil
}

// storeUsage describes --store, the same for serve, init and admin-key.
const storeUsage = "ledger storage: badger (in DATA/ledger/) or a postgres://USER@HOST:5432/DB URL (env TOLLGATE_STORE)"

// openStore opens the ledger's store for a command: badger in data's
// ledger/ directory, or the PostgreSQL database spec names.
func openStore(env *IO, data, spec string) (*store.DB, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return store.OpenEngine(context.Background(), spec, store.Options{Dir: app.LedgerDir(data), Profile: store.ProfileSmall, Clock: env.Clock, Logger: quiet})
}

// badgerLockText starts badger's error for a directory another process
// holds open.
const badgerLockText = "Cannot acquire directory lock"

// adminKeyResult is what admin-key prints: the key appears this once.
type adminKeyResult struct {
	UserID      string `json:"user_id"`
	CustomerID  string `json:"customer_id"`
	AdminAPIKey string `json:"admin_api_key"`
}

// runAdminKey recovers from a lost vendor admin key. Whoever can read and
// write the data directory already holds everything the key protects, so
// access to the directory is the proof: the command adds a new admin user
// to the root customer, audited as a system action, and prints its key
// once. The lost key's user stays until revoked with tollgatectl user
// revoke.
func runAdminKey(ctx context.Context, env *IO, args []string) error {
	fs := cli.Flags("admin-key")
	data := fs.String("data", "", "server data directory (env TOLLGATE_DATA)")
	spec := fs.String("store", "badger", storeUsage)
	email := fs.String("email", "admin@localhost", "email of the new admin user")
	out := cli.OutputFlag(fs)
	if err := parseDataCommand(fs, args); err != nil {
		return err
	}
	if err := app.CheckInitialized(*data, *spec); err != nil {
		return err
	}
	db, lg, err := openLedger(env, *data, *spec)
	if err != nil {
		return err
	}
	defer db.Close()
	if lg.RootID() == "" {
		return app.Refuse("not_initialized", app.ErrNotInitialized, "%s has no root customer; run tollgate-server init --data %s", *data, *data)
	}
	u, key, err := lg.CreateUser(ctx, ledger.SystemActor(), lg.RootID(), *email, ledger.RoleAdmin)
	if errors.Is(err, ledger.ErrInvalid) {
		return cli.Errorf("invalid_argument", "%v", err)
	}
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	res := adminKeyResult{UserID: u.ID, CustomerID: u.CustomerID, AdminAPIKey: key}
	rows := [][]string{{"user_id", res.UserID}, {"customer_id", res.CustomerID}, {"admin_api_key", res.AdminAPIKey}}
	if err := cli.Render(env.Stdout, *out, res, []string{"FIELD", "VALUE"}, rows); err != nil {
		return err
	}
	if *out == cli.Table {
		fmt.Fprintln(env.Stderr, "The admin API key is shown this once; store it now (TOLLGATE_API_KEY). Revoke the lost one with tollgatectl user list / user revoke.")
	}
	return nil
}
