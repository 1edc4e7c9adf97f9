package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// pgFleet is BenchmarkSync's fleet, built once per test process: the
// store's every pair as a dump (loaded into each benchmark run's new
// PostgreSQL schema with COPY) and the signing-key files the ledger wrote
// beside it. Building it through the ledger takes seconds; loading the
// dump takes a fraction of that, so the go test runs of growing b.N do
// not each pay for the build.
var pgFleet struct {
	once sync.Once
	err  error
	dump []byte
	keys map[string][]byte // path under the data directory → content
	ids  []string
	lics []string
	seq  int64
}

// buildPGFleet fills pgFleet: the fleet newBenchServer builds, made in an
// unsynced badger store and dumped.
func buildPGFleet(b *testing.B) error {
	ctx := context.Background()
	dir, kdir := b.TempDir(), b.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clk := clock.NewFake(ledgertest.Start)
	ks, err := keys.Open(kdir, clk)
	if err != nil {
		return err
	}
	if _, err := ks.Rotate(); err != nil {
		return err
	}
	db, err := store.Open(store.Options{Dir: dir, Profile: store.ProfileServer, Clock: clk, Logger: log, Unsynced: true})
	if err != nil {
		return err
	}
	defer db.Close()
	lg, err := ledger.New(ledger.Options{DB: db, Clock: clk, Keys: keys.NewCache(ks, clk, time.Hour), Logger: log})
	if err != nil {
		return err
	}
	root, _, _, err := lg.Bootstrap(ctx, "Vendor", "ops@vendor.test")
	if err != nil {
		return err
	}
	sys := ledger.SystemActor()
	if _, err := lg.CreateCustomer(ctx, sys, ledger.CustomerInput{ID: "acme", Name: "acme", ParentID: root.ID}); err != nil {
		return err
	}
	var lics, ids []string
	for len(lics) < benchDevices {
		ls, err := lg.CreateLicenses(ctx, sys, ledger.LicenseInput{CustomerID: "acme", Type: "standard", Billing: "days",
			Days: 100_000, Models: []string{"*"}, Count: min(ledger.MaxBatch, 500)})
		if err != nil {
			return err
		}
		for _, l := range ls {
			lics = append(lics, l.ID)
		}
	}
	lics = lics[:benchDevices]
	for i := range benchDevices {
		id := benchDeviceID(i)
		if _, err := lg.CreateDevice(ctx, sys, ledger.DeviceInput{ID: id, CustomerID: "acme", Model: "sensor-a",
			PublicKey: token.EncodePublicKey(deviceSigner(b, id).PublicKey())}); err != nil {
			return err
		}
		if _, err := lg.Bind(ctx, sys, lics[i], ledger.BindInput{DeviceID: id}); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if h, err := lg.RevocationHead(ctx); err == nil {
		pgFleet.seq = h.Seq
	}
	var buf bytes.Buffer
	if _, err := db.Dump(ctx, &buf, clk); err != nil {
		return err
	}
	files := map[string][]byte{}
	err = filepath.WalkDir(kdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(kdir, p)
		if err != nil {
			return err
		}
		files[rel], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		return err
	}
	pgFleet.dump, pgFleet.keys, pgFleet.ids, pgFleet.lics = buf.Bytes(), files, ids, lics
	return nil
}

// benchDeviceID names fleet device i as newBenchServer does.
func benchDeviceID(i int) string { return fmt.Sprintf("bench-%05d", i) }

// pgReplica is one server process: its own store pool, ledger (with its
// own caches and group-commit queue) and router.
type pgReplica struct {
	db *store.DB
	h  http.Handler
}

// newPGBenchServer loads the fleet into a new PostgreSQL schema (COPY, not
// measured) and starts replicas servers over it, each as serve runs one:
// commits synced (the test helpers' synchronous_commit=off is dropped),
// the cached key source, the real router. The returned server's handler
// spreads requests over the replicas in turn, as a load balancer would.
func newPGBenchServer(b *testing.B, replicas int) (*benchServer, []pgReplica) {
	ctx := context.Background()
	u, err := url.Parse(storetest.PostgresURL(b)) // skips (fails on CI) without PostgreSQL
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Del("synchronous_commit")
	u.RawQuery = q.Encode()
	pgFleet.once.Do(func() { pgFleet.err = buildPGFleet(b) })
	if pgFleet.err != nil {
		b.Fatalf("build the fleet: %v", pgFleet.err)
	}
	kdir := b.TempDir()
	for rel, data := range pgFleet.keys {
		p := filepath.Join(kdir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clk := clock.NewFake(ledgertest.Start)
	ks, err := keys.Open(kdir, clk)
	if err != nil {
		b.Fatal(err)
	}
	s := &benchServer{clk: clk, ids: pgFleet.ids, lics: pgFleet.lics, seq: pgFleet.seq}
	for _, id := range s.ids {
		s.dev = append(s.dev, deviceSigner(b, id))
	}
	var reps []pgReplica
	var hs []http.Handler
	for i := range replicas {
		db, err := store.OpenPostgres(ctx, u.String(), store.Options{Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		if i == 0 {
			if _, err := db.Load(ctx, bytes.NewReader(pgFleet.dump)); err != nil {
				b.Fatalf("load the fleet: %v", err)
			}
		}
		lg, err := ledger.New(ledger.Options{DB: db, Clock: clk, Keys: keys.NewCache(ks, clk, time.Hour), Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		h := New(Options{Ledger: lg, Clock: clk, Logger: log}).Handler()
		reps, hs = append(reps, pgReplica{db: db, h: h}), append(hs, h)
	}
	s.h = &spread{hs: hs}
	return s, reps
}

// spread hands each request to the next handler in turn.
type spread struct {
	hs   []http.Handler
	next atomic.Uint64
}

func (s *spread) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hs[(s.next.Add(1)-1)%uint64(len(s.hs))].ServeHTTP(w, r)
}

// benchSyncsPG runs benchSyncs over replicas servers on one PostgreSQL
// database and adds retries/sync: transactions run again after a
// serialization conflict, per sync (a retry storm shows here first).
func benchSyncsPG(b *testing.B, replicas int) {
	s, reps := newPGBenchServer(b, replicas)
	reqs := s.requests(b, b.N, s.seq)
	var before uint64
	for _, r := range reps {
		before += r.db.Retries()
	}
	benchSyncs(b, s, reqs)
	var after uint64
	for _, r := range reps {
		after += r.db.Retries()
	}
	b.ReportMetric(float64(after-before)/float64(b.N), "retries/sync")
}

// BenchmarkSyncPostgres is BenchmarkSync with the ledger on PostgreSQL
// (127.0.0.1:5432, or TOLLGATE_TEST_POSTGRES; a throwaway schema): one
// server, synced commits. Same fleet, same requests, same figures, plus
// retries/sync.
func BenchmarkSyncPostgres(b *testing.B) { benchSyncsPG(b, 1) }

// BenchmarkSyncPostgres2Replicas is two servers — two ledgers, each with
// its own caches and group commit — over the same PostgreSQL database,
// the requests alternating between them as a load balancer spreads them.
// Their commits overlap, so PostgreSQL's serializable isolation decides
// between them; retries/sync counts the transactions it made run again.
func BenchmarkSyncPostgres2Replicas(b *testing.B) { benchSyncsPG(b, 2) }
