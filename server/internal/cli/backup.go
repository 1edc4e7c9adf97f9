package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

// ErrBackupExists reports a backup file name that is already taken.
var ErrBackupExists = errors.New("backup file exists")

// dumpResult is what backup, restore and migrate-store print.
type dumpResult struct {
	File        string `json:"file,omitempty"`
	Source      string `json:"source,omitempty"`
	Target      string `json:"target,omitempty"`
	Engine      string `json:"engine"`
	Created     string `json:"created,omitempty"`
	Records     int64  `json:"records"`
	Bytes       int64  `json:"bytes"`
	SHA256      string `json:"sha256"`
	Duration    string `json:"duration,omitempty"`
	SigningKeys string `json:"signing_keys"`
}

// render prints r as FIELD VALUE rows, or as JSON or CSV.
func (r dumpResult) render(env *IO, out cli.Format) error {
	rows := [][]string{}
	for _, f := range [][2]string{{"file", r.File}, {"source", r.Source}, {"target", r.Target}, {"engine", r.Engine},
		{"created", r.Created}, {"records", strconv.FormatInt(r.Records, 10)}, {"bytes", strconv.FormatInt(r.Bytes, 10)},
		{"sha256", r.SHA256}, {"duration", r.Duration}, {"signing_keys", r.SigningKeys}} {
		if f[1] != "" {
			rows = append(rows, []string{f[0], f[1]})
		}
	}
	return cli.Render(env.Stdout, out, r, []string{"FIELD", "VALUE"}, rows)
}

func newDumpResult(info store.DumpInfo) dumpResult {
	r := dumpResult{Engine: info.Engine, Records: info.Records, Bytes: info.Bytes, SHA256: hex.EncodeToString(info.Digest[:])}
	if !info.Created.IsZero() {
		r.Created = info.Created.UTC().Format(time.RFC3339)
	}
	return r
}

// keysNote says where the signing keys are for each command: never in
// the ledger, so never in a dump.
func keysNote(command, data string) string {
	keys := filepath.Join(data, "keys")
	switch command {
	case "backup":
		return "not in this file: back up " + keys + " on its own and keep it apart (it signs every token)"
	case "restore":
		return "not in the backup: put the keys/ directory of the backed-up server into " + keys
	}
	return "stay in " + keys + ": every server on the database needs a copy of it"
}

// parseFileCommand parses the flags of backup and restore: --data and one
// FILE argument.
func parseFileCommand(fs *flag.FlagSet, args []string) (string, error) {
	if err := cli.Parse(fs, args, envVars); err != nil {
		return "", err
	}
	if fs.Lookup("data").Value.String() == "" {
		return "", cli.Usagef("--data is required")
	}
	switch fs.NArg() {
	case 0:
		return "", cli.Usagef("FILE is required")
	case 1:
	default:
		return "", cli.Usagef("unexpected argument %q (flags go before FILE)", fs.Arg(1))
	}
	if fs.Arg(0) == "" {
		return "", cli.Usagef("FILE is empty")
	}
	return fs.Arg(0), nil
}

// openCommandStore opens the ledger's store for backup or migrate-store;
// a badger directory a running server holds is refused with what to do
// instead.
func openCommandStore(env *IO, data, spec, instead string) (*store.DB, error) {
	db, err := openStore(env, data, spec)
	// badger formats its lock error with %+v, so only its text names it.
	if err != nil && (errors.Is(err, syscall.EWOULDBLOCK) || strings.Contains(err.Error(), badgerLockText)) {
		return nil, app.Refuse("data_in_use", ErrDataInUse, "a running tollgate-server holds %s (badger lets one process open it); %s",
			app.LedgerDir(data), instead)
	}
	if err != nil {
		return nil, cli.Errorf("io", "%v", err)
	}
	return db, nil
}

// dumpError gives a dump or load error its stable code.
func dumpError(err error) error {
	for _, c := range []struct {
		code string
		err  error
	}{
		{"not_a_dump", store.ErrDumpNotADump}, {"dump_version", store.ErrDumpVersion},
		{"dump_truncated", store.ErrDumpTruncated}, {"dump_checksum", store.ErrDumpChecksum},
		{"dump_record_too_big", store.ErrDumpRecordTooBig}, {"dump_corrupt", store.ErrDumpCorrupt},
		{"target_not_empty", store.ErrTargetNotEmpty},
	} {
		if errors.Is(err, c.err) {
			return cli.Errorf(c.code, "%v", err)
		}
	}
	if errors.Is(err, ErrBackupExists) {
		return err
	}
	return cli.Errorf("io", "%v", err)
}

// runBackup writes the ledger to FILE as a dump (store.Dump): one
// consistent snapshot, written to a temporary file beside FILE, synced,
// and only then given FILE's name, which must not exist.
func runBackup(ctx context.Context, env *IO, args []string) error {
	fs := cli.Flags("backup")
	data := fs.String("data", "", "server data directory (env TOLLGATE_DATA)")
	spec := fs.String("store", "badger", storeUsage)
	out := cli.OutputFlag(fs)
	file, err := parseFileCommand(fs, args)
	if err != nil {
		return err
	}
	if err := app.CheckInitialized(*data, *spec); err != nil {
		return err
	}
	if _, err := os.Lstat(file); err == nil {
		return backupExists(file)
	}
	db, err := openCommandStore(env, *data, *spec,
		"stop it for the backup (a backup takes seconds), or back up a filesystem snapshot of the data directory: see docs/deploy.md")
	if err != nil {
		return err
	}
	defer db.Close()
	var info store.DumpInfo
	err = writeFileAtomic(file, func(w io.Writer) error {
		var err error
		info, err = db.Dump(ctx, w, env.Clock)
		return err
	})
	if err != nil {
		return dumpError(err)
	}
	r := newDumpResult(info)
	r.File, r.SigningKeys = file, keysNote("backup", *data)
	return r.render(env, *out)
}

func backupExists(file string) error {
	return app.Refuse("file_exists", ErrBackupExists, "%s already exists; backup never overwrites a file: give a new name, or move the old file away", file)
}

// writeFileAtomic writes a new file at path through fill: into a
// temporary file in the same directory (mode 0600: a ledger holds
// customers' data), synced, then linked to path — which fails if path
// exists, so nothing is overwritten even by a race — and the directory
// synced. On any failure the temporary file is removed and path does not
// exist.
func writeFileAtomic(path string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // after the link, path keeps the file
	err = fill(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(name, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return backupExists(path)
		}
		// A filesystem without hard links: rename, after a last check.
		if _, serr := os.Lstat(path); serr == nil {
			return backupExists(path)
		}
		if err := os.Rename(name, path); err != nil {
			return err
		}
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a directory's new entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
