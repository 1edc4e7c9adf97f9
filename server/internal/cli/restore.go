package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

// ErrLedgerExists reports a restore into a data directory that already
// holds a ledger.
var ErrLedgerExists = errors.New("data directory already holds a ledger")

// restoreTempPrefix names the directory a badger restore fills before it
// becomes DATA/ledger.
const restoreTempPrefix = ".ledger-restore-"

// runRestore loads a backup into the empty ledger of a data directory
// (badger) or into an empty PostgreSQL database (--store).
func runRestore(ctx context.Context, env *IO, args []string) error {
	fs := cli.Flags("restore")
	data := fs.String("data", "", "server data directory to restore into; made if missing (env TOLLGATE_DATA)")
	spec := fs.String("store", "badger", storeUsage)
	out := cli.OutputFlag(fs)
	file, err := parseFileCommand(fs, args)
	if err != nil {
		return err
	}
	if *spec != "badger" && !store.IsPostgresURL(*spec) {
		return cli.Usagef("--store %s: use badger or a postgres:// URL", store.RedactURL(*spec))
	}
	f, err := os.Open(file)
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	defer f.Close()
	var info store.DumpInfo
	var target string
	if store.IsPostgresURL(*spec) {
		target = store.RedactURL(*spec)
		info, err = restorePostgres(ctx, env, *spec, f)
	} else {
		target = app.LedgerDir(*data)
		info, err = restoreBadger(ctx, env, *data, f)
	}
	if err != nil {
		return err
	}
	r := newDumpResult(info)
	r.File, r.Target, r.SigningKeys = file, target, keysNote("restore", *data)
	if err := r.render(env, *out); err != nil {
		return err
	}
	if st, err := os.Stat(filepath.Join(*data, "keys")); err != nil || !st.IsDir() {
		fmt.Fprintf(env.Stderr, "%s has no keys/ yet: copy the signing keys from their own backup into %s before serve — the licenses' tokens are signed with them.\n",
			*data, filepath.Join(*data, "keys"))
	}
	return nil
}

func restorePostgres(ctx context.Context, env *IO, url string, r io.Reader) (store.DumpInfo, error) {
	db, err := store.OpenPostgres(ctx, url, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return store.DumpInfo{}, cli.Errorf("io", "%v", err)
	}
	defer db.Close()
	info, err := db.Load(ctx, r)
	if errors.Is(err, store.ErrTargetNotEmpty) {
		return info, app.Refuse("target_not_empty", store.ErrTargetNotEmpty,
			"the database %s already holds a ledger; restore into an empty database (CREATE DATABASE …) and serve from it", store.RedactURL(url))
	}
	if err != nil {
		return info, dumpError(err)
	}
	return info, nil
}

// restoreBadger loads the dump into a fresh badger directory beside
// DATA/ledger and renames it into place only once it is whole, synced and
// closed: a restore that fails — or a machine that dies during one —
// leaves no ledger/ behind, never a half-restored one.
func restoreBadger(ctx context.Context, env *IO, data string, r io.Reader) (store.DumpInfo, error) {
	ledgerDir := app.LedgerDir(data)
	if err := checkNoLedger(data); err != nil {
		return store.DumpInfo{}, err
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return store.DumpInfo{}, cli.Errorf("io", "%v", err)
	}
	tmp, err := os.MkdirTemp(data, restoreTempPrefix)
	if err != nil {
		return store.DumpInfo{}, cli.Errorf("io", "%v", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; otherwise the half-made store
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Unsynced: the one Sync below makes the whole load durable at once.
	db, err := store.Open(store.Options{Dir: tmp, Profile: store.ProfileSmall, Clock: env.Clock, Logger: quiet, Unsynced: true})
	if err != nil {
		return store.DumpInfo{}, cli.Errorf("io", "%v", err)
	}
	info, err := db.Load(ctx, r)
	if err == nil {
		err = db.Sync()
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return info, dumpError(err)
	}
	if err := checkNoLedger(data); err != nil { // another restore or init got there first
		return info, err
	}
	if err := os.Rename(tmp, ledgerDir); err != nil {
		return info, cli.Errorf("io", "%v", err)
	}
	if err := syncDir(data); err != nil {
		return info, cli.Errorf("io", "%v", err)
	}
	return info, nil
}

// checkNoLedger refuses a data directory whose ledger/ holds anything.
func checkNoLedger(data string) error {
	dir := app.LedgerDir(data)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(ents) == 0) {
		return nil
	}
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	return app.Refuse("ledger_exists", ErrLedgerExists,
		"%s already holds a ledger; restore into a new data directory (--data NEW_DIR, then copy keys/ into it), or stop the server and move %s away first",
		dir, dir)
}
