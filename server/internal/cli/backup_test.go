package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
)

// leftovers lists the temporary files and directories a backup or
// restore may make in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.Contains(e.Name(), ".partial-") || strings.HasPrefix(e.Name(), restoreTempPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestBackupRestoreRoundTrip: backup writes the ledger to a new file
// readable only by its owner and never overwrites one; restore into a new
// data directory (with the keys copied from their own backup) gives a
// ledger that answers as the original (stats, deductions, sync state, a
// token that verifies); a second restore into it is refused.
func TestBackupRestoreRoundTrip(t *testing.T) {
	dir, lic := buildLedger(t)
	want := answersOf(t, dir, "badger", lic)
	backups := t.TempDir()
	file := filepath.Join(backups, "ledger.tgdump")
	code, stdout, stderr := run(t, "backup", "--data", dir, "-o", "json", file)
	if code != 0 {
		t.Fatalf("backup: %d %s", code, stderr)
	}
	var res dumpResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.File != file || res.Engine != "badger" || res.Records < 20 ||
		!strings.Contains(res.SigningKeys, "not in this file") {
		t.Fatalf("backup printed %q (%v)", stdout, err)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v, want mode 0600", st.Mode(), err)
	}
	first, _ := os.ReadFile(file)

	code, _, stderr = run(t, "backup", "--data", dir, file)
	if code != 1 || !strings.HasPrefix(stderr, "error: file_exists: "+file+" already exists") {
		t.Fatalf("backup over an existing file: %d %q", code, stderr)
	}
	if again, _ := os.ReadFile(file); !bytes.Equal(again, first) {
		t.Fatal("a refused backup changed the existing file")
	}
	if l := leftovers(t, backups); len(l) != 0 {
		t.Fatalf("backup left %v", l)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	code, _, stderr = run(t, "restore", "--data", restored, file)
	if code != 0 || !strings.Contains(stderr, "has no keys/ yet") {
		t.Fatalf("restore: %d %q", code, stderr)
	}
	copyKeys(t, dir, restored)
	if got := answersOf(t, restored, "badger", lic); got != want {
		t.Fatalf("the restored ledger answers\n%+v\nthe original\n%+v", got, want)
	}
	if l := leftovers(t, restored); len(l) != 0 {
		t.Fatalf("restore left %v", l)
	}
	code, _, stderr = run(t, "restore", "--data", restored, file)
	if code != 1 || !strings.HasPrefix(stderr, "error: ledger_exists: "+app.LedgerDir(restored)+" already holds a ledger; restore into a new data directory") {
		t.Fatalf("restore over a ledger: %d %q", code, stderr)
	}
	if got := answersOf(t, restored, "badger", lic); got != want {
		t.Fatal("a refused restore changed the ledger")
	}
}

// TestRestoreRefusesDamagedBackups: a truncated, altered or foreign file
// is refused with its code and leaves no ledger/ (nor a temporary
// directory) in the target.
func TestRestoreRefusesDamagedBackups(t *testing.T) {
	dir, _ := buildLedger(t)
	file := filepath.Join(t.TempDir(), "ledger.tgdump")
	if code, _, stderr := run(t, "backup", "--data", dir, file); code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-40] ^= 1 // the trailer's count: only the checksum tells
	for _, tc := range []struct {
		name string
		file []byte
		code string
	}{
		{"truncated", good[:len(good)*2/3], "dump_truncated"},
		{"altered", flipped, "dump_checksum"},
		{"foreign", []byte("-- PostgreSQL database dump\n"), "not_a_dump"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.tgdump")
			if err := os.WriteFile(bad, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(t.TempDir(), "data")
			code, _, stderr := run(t, "restore", "--data", target, bad)
			if code != 1 || !strings.HasPrefix(stderr, "error: "+tc.code+": ") {
				t.Fatalf("restore: %d %q, want %s", code, stderr, tc.code)
			}
			if _, err := os.Stat(app.LedgerDir(target)); !os.IsNotExist(err) {
				t.Fatalf("a refused restore left %s (%v)", app.LedgerDir(target), err)
			}
			if l := leftovers(t, target); len(l) != 0 {
				t.Fatalf("a refused restore left %v", l)
			}
		})
	}
}

// TestBackupRefusals: a ledger a running server holds is refused with what
// to do instead, and no file appears; FILE is required and single.
func TestBackupRefusals(t *testing.T) {
	dir, _ := buildLedger(t)
	held, err := store.Open(store.Options{Dir: app.LedgerDir(dir), Profile: store.ProfileSmall, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ledger.tgdump")
	code, _, stderr := run(t, "backup", "--data", dir, file)
	held.Close()
	if code != 1 || !strings.HasPrefix(stderr, "error: data_in_use: a running tollgate-server holds ") || !strings.Contains(stderr, "filesystem snapshot") {
		t.Fatalf("backup beside a running server: %d %q", code, stderr)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a refused backup made %s", file)
	}
	for _, args := range [][]string{{"backup", "--data", dir}, {"backup", "--data", dir, file, "extra"}, {"restore", "--data", dir},
		{"backup", file}, {"restore", "--data", dir, "--store", "mysql://x/y", file}} {
		if code, _, stderr := run(t, args...); code != 2 {
			t.Errorf("%v: %d %q, want a usage error", args, code, stderr)
		}
	}
}

// TestBackupRestorePostgres: backup and restore take --store: a badger
// backup restores into an empty PostgreSQL database (where the ledger then
// answers as the original), a backup of that database restores into
// badger again, and a restore into the now non-empty database is refused.
func TestBackupRestorePostgres(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir, lic := buildLedger(t)
	want := answersOf(t, dir, "badger", lic)
	backups := t.TempDir()
	file := filepath.Join(backups, "badger.tgdump")
	if code, _, stderr := run(t, "backup", "--data", dir, file); code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	if code, _, stderr := run(t, "restore", "--data", dir, "--store", pg, file); code != 0 {
		t.Fatalf("restore --store postgres: %d %s", code, stderr)
	}
	if got := answersOf(t, dir, pg, lic); got != want {
		t.Fatalf("restored into PostgreSQL, the ledger answers\n%+v\nthe original\n%+v", got, want)
	}
	code, _, stderr := run(t, "restore", "--data", dir, "--store", pg, file)
	if code != 1 || !strings.HasPrefix(stderr, "error: target_not_empty: ") {
		t.Fatalf("restore into a non-empty database: %d %q", code, stderr)
	}
	pgFile := filepath.Join(backups, "postgres.tgdump")
	code, stdout, stderr := run(t, "backup", "--data", dir, "--store", pg, "-o", "json", pgFile)
	var res dumpResult
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil || res.Engine != "postgres" {
		t.Fatalf("backup --store postgres: %d %s %s", code, stdout, stderr)
	}
	back := filepath.Join(t.TempDir(), "back")
	if code, _, stderr := run(t, "restore", "--data", back, pgFile); code != 0 {
		t.Fatalf("restore of a PostgreSQL backup into badger: %s", stderr)
	}
	copyKeys(t, dir, back)
	if got := answersOf(t, back, "badger", lic); got != want {
		t.Fatal("badger → PostgreSQL → badger does not answer as the original")
	}
}

// TestWriteFileAtomicNeverOverwrites: a file that appears at the name
// while the backup is written (another backup racing this one) is kept,
// and this one is refused; a backup whose writing fails leaves neither the
// name nor a temporary file.
func TestWriteFileAtomicNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.tgdump")
	err := writeFileAtomic(path, func(w io.Writer) error {
		if err := os.WriteFile(path, []byte("the other backup"), 0o600); err != nil {
			return err
		}
		_, err := w.Write([]byte("this backup"))
		return err
	})
	if !errors.Is(err, ErrBackupExists) {
		t.Fatalf("writeFileAtomic over a file that appeared meanwhile: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "the other backup" {
		t.Fatalf("the file that got there first now holds %q", b)
	}
	failed := filepath.Join(dir, "failed.tgdump")
	boom := errors.New("disk full")
	if err := writeFileAtomic(failed, func(w io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("a failing write: %v", err)
	}
	if _, err := os.Stat(failed); !os.IsNotExist(err) {
		t.Fatalf("a failed backup left %s (%v)", failed, err)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Fatalf("temporary files left: %v", l)
	}
}
