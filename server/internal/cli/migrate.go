package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

// ErrVerifyFailed reports a copy whose content, read back, differs from
// its source.
var ErrVerifyFailed = errors.New("the copy does not match its source")

var migrateEnv = map[string]string{"data": "TOLLGATE_DATA", "to": "TOLLGATE_STORE"}

// runMigrateStore copies the badger ledger of a data directory into an
// empty PostgreSQL database: the schema first (under the migrations'
// advisory lock), then every pair streamed as a dump from one snapshot of
// badger into one COPY transaction, then both stores read back and
// compared (count, bytes and SHA-256 over every pair in key order). The
// badger ledger is left as it was.
func runMigrateStore(ctx context.Context, env *IO, args []string) error {
	fs := cli.Flags("migrate-store")
	data := fs.String("data", "", "server data directory whose badger ledger is copied (env TOLLGATE_DATA)")
	to := fs.String("to", "", "the empty PostgreSQL database to copy it into: postgres://USER@HOST:5432/DB (env TOLLGATE_STORE)")
	out := cli.OutputFlag(fs)
	if err := cli.Parse(fs, args, migrateEnv); err != nil {
		return err
	}
	switch {
	case *data == "":
		return cli.Usagef("--data is required")
	case *to == "":
		return cli.Usagef("--to is required")
	case !store.IsPostgresURL(*to):
		return cli.Usagef("--to %s: give a postgres:// URL", store.RedactURL(*to))
	case fs.NArg() > 0:
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := app.CheckInitialized(*data, "badger"); err != nil {
		return err
	}
	start := env.Clock.Now()
	src, err := openCommandStore(env, *data, "badger", "stop it first: the copy must be of a ledger nobody changes")
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := store.OpenPostgres(ctx, *to, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	defer dst.Close()
	target := store.RedactURL(*to)
	if empty, err := dst.Empty(); err != nil {
		return cli.Errorf("io", "%v", err)
	} else if !empty {
		return app.Refuse("target_not_empty", store.ErrTargetNotEmpty,
			"the database %s already holds data; migrate-store copies only into an empty database (CREATE DATABASE …) and never merges or overwrites", target)
	}
	loaded, err := copyStore(ctx, env, src, dst)
	if errors.Is(err, store.ErrTargetNotEmpty) {
		return app.Refuse("target_not_empty", store.ErrTargetNotEmpty, "the database %s received data while the copy started; nothing was copied", target)
	}
	if err != nil {
		return dumpError(err)
	}
	if err := verifyCopy(ctx, src, dst, loaded); err != nil {
		return err
	}
	r := newDumpResult(loaded)
	r.Created, r.Engine = "", "postgres"
	r.Source, r.Target = app.LedgerDir(*data), target
	r.Duration = env.Clock.Now().Sub(start).Round(time.Millisecond).String()
	r.SigningKeys = keysNote("migrate-store", *data)
	if err := r.render(env, *out); err != nil {
		return err
	}
	if *out == cli.Table {
		fmt.Fprintf(env.Stderr, "Serve from it with: tollgate-server serve --data %s --store %s\n"+
			"Every replica needs a copy of %s/keys. %s is no longer read by such a server; keep it until you are satisfied, then move it away.\n",
			*data, target, *data, app.LedgerDir(*data))
	}
	return nil
}

// copyStore streams a dump of src into dst and returns what dst loaded.
func copyStore(ctx context.Context, env *IO, src, dst *store.DB) (store.DumpInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	dumped := make(chan error, 1)
	go func() {
		_, err := src.Dump(ctx, pw, env.Clock)
		pw.CloseWithError(err) // nil: the reader sees EOF after the trailer
		dumped <- err
	}()
	loaded, err := dst.Load(ctx, pr)
	// A load that stopped early unblocks the dump; a dump that failed has
	// already reached the load through the pipe, so err names it.
	pr.CloseWithError(errors.New("load ended"))
	cancel()
	derr := <-dumped
	if err != nil {
		return loaded, err
	}
	return loaded, derr
}

// verifyCopy reads both stores back and compares them with each other
// and with what the load reported.
func verifyCopy(ctx context.Context, src, dst *store.DB, loaded store.DumpInfo) error {
	a, err := src.Digest(ctx)
	if err != nil {
		return cli.Errorf("io", "verify: %v", err)
	}
	b, err := dst.Digest(ctx)
	if err != nil {
		return cli.Errorf("io", "verify: %v", err)
	}
	same := func(x, y store.DumpInfo) bool {
		return x.Records == y.Records && x.Bytes == y.Bytes && x.Digest == y.Digest
	}
	if !same(a, b) || !same(a, loaded) {
		return app.Refuse("verify_failed", ErrVerifyFailed,
			"the copy does not match the badger ledger (badger %d records, %d bytes; PostgreSQL %d records, %d bytes); "+
				"the badger ledger is unchanged: drop and re-create the database, then run migrate-store again",
			a.Records, a.Bytes, b.Records, b.Bytes)
	}
	return nil
}
