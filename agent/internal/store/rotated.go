package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// rotatedSyncer closes a power-loss hole in badger v4's DB.Sync.
//
// With SyncWrites(false) badger writes its logs through shared mmaps and
// fsyncs nothing on its own. DB.Sync (db.go, v4.9.6) msyncs only the
// memtable that is active at that moment (db.mt.SyncWAL) and the value-log
// file with the highest id (valueLog.sync). But the single write goroutine
// rotates both logs on its own: ensureRoomForWrite moves a full memtable to
// db.imm and opens a new NNNNN.mem, and valueLog.write closes a full vlog
// (doneWriting, which fsyncs only under SyncWrites) and creates the next
// NNNNNN.vlog. The old file is fsynced by nobody until its memtable is
// flushed to an SST (CreateTable msyncs the table, the manifest is synced,
// then the WAL is deleted). A write committed, then a rotation, then
// DB.Sync: the write is only in the page cache — gone on power loss though
// not on SIGKILL.
//
// The fix, after DB.Sync: list the directory, and fsync every *.mem and
// *.vlog file that is not the highest-numbered of its kind and has not been
// fsynced since it stopped being current. fsync works on the inode, so an
// fsync through a fresh read-only descriptor writes back the pages dirtied
// through badger's MAP_SHARED mapping exactly as badger's own msync(MS_SYNC)
// would. New files' directory entries are already synced by badger at
// creation (ristretto z.OpenMmapFile calls SyncDir), so we need no
// directory fsync.
//
// Why this covers every write W committed before Sync was called, whatever
// the moment of the rotation of the file F that holds W:
//
//   - Only badger's write goroutine appends to a log, and it creates the
//     successor of F (a higher id) before it writes anything there and never
//     writes to F again afterwards. So "F is not the highest of its kind in
//     a listing" implies "every write F will ever hold, W included, is
//     already in F's pages", and an fsync after that listing makes all of
//     them durable. A file in the synced set was fsynced after such a
//     listing, so skipping it later is safe.
//   - Rotation before DB.Sync, or while it runs (before it reads db.mt /
//     vlog.maxFid): DB.Sync syncs the successor, not F; our listing runs
//     after DB.Sync, sees F below the successor and fsyncs it — or does not
//     see F because its memtable was flushed, whose SST is msynced before
//     the WAL is deleted.
//   - Rotation after DB.Sync read db.mt / maxFid: DB.Sync already synced F
//     with W in it; our listing may also fsync F once more (harmless: it is
//     a once-per-file cost, never repeated).
//   - No rotation: DB.Sync alone covers F.
//
// The mutex makes a concurrent Sync wait for an fsync in progress rather
// than trust a name that is not yet durable. The cost is one ReadDir per
// Sync plus one fsync per rotated file (every 8 MiB of WAL with the device
// profile); BenchmarkSyncRotated measures it against DB.Sync alone.
type rotatedSyncer struct {
	dirs  []string // badger's Dir and, if different, ValueDir
	fsync func(path string) error

	mu     sync.Mutex
	synced map[string]bool // paths fsynced after they stopped being current
}

func newRotatedSyncer(dir, valueDir string, fsync func(string) error) *rotatedSyncer {
	if fsync == nil {
		fsync = fsyncPath
	}
	dirs := []string{dir}
	if filepath.Clean(valueDir) != filepath.Clean(dir) {
		dirs = append(dirs, valueDir)
	}
	return &rotatedSyncer{dirs: dirs, fsync: fsync, synced: map[string]bool{}}
}

// fsyncPath fsyncs a file through a read-only descriptor.
func fsyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	serr := f.Sync()
	return errors.Join(serr, f.Close())
}

// logKinds are the badger log files DB.Sync covers only while current.
var logKinds = []string{".mem", ".vlog"}

// sync fsyncs every rotated log file not fsynced yet. It must run after
// DB.Sync (see the type's comment).
func (r *rotatedSyncer) sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	type file struct {
		path string
		id   uint64
	}
	byKind := map[string][]file{} // dir + extension → files
	present := map[string]bool{}
	for _, dir := range r.dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("store: list %s: %w", dir, err)
		}
		for _, e := range entries {
			name := e.Name()
			for _, ext := range logKinds {
				if !strings.HasSuffix(name, ext) || !e.Type().IsRegular() {
					continue
				}
				id, perr := strconv.ParseUint(strings.TrimSuffix(name, ext), 10, 64)
				if perr != nil {
					continue // not a badger log (badger itself refuses to open such a dir)
				}
				path := filepath.Join(dir, name)
				byKind[dir+ext] = append(byKind[dir+ext], file{path, id})
				present[path] = true
			}
		}
	}
	for path := range r.synced {
		if !present[path] {
			delete(r.synced, path) // flushed or collected: ids are never reused
		}
	}
	var errs []error
	for _, files := range byKind {
		var top uint64
		for _, f := range files {
			top = max(top, f.id)
		}
		for _, f := range files {
			if f.id == top || r.synced[f.path] {
				continue
			}
			err := r.fsync(f.path)
			switch {
			case err == nil:
				r.synced[f.path] = true
			case errors.Is(err, fs.ErrNotExist):
				// Deleted since the listing: a WAL after its memtable's
				// SST was msynced, a vlog after GC moved its values.
			default:
				errs = append(errs, fmt.Errorf("store: fsync rotated %s: %w", filepath.Base(f.path), err))
			}
		}
	}
	return errors.Join(errs...)
}
