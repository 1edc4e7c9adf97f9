package api

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
)

// newPostgresBenchServer is BenchmarkSync's fleet with the ledger in
// PostgreSQL, served by the given number of replicas: each its own pool,
// ledger (write lock, group-commit queue, caches) and router over the one
// database, as separate serve processes are. The fleet is built on badger
// and moved over with the store's dump (docs/deploy.md "Moving a badger
// ledger into PostgreSQL"): building it through the ledger would cost a
// round trip per write. The database commits synchronously, as in
// production (the test schemas' default is off).
func newPostgresBenchServer(b *testing.B, replicas int) *benchServer {
	ctx := context.Background()
	s := newBenchServer(b)
	var dump bytes.Buffer
	if _, err := s.db.Dump(ctx, &dump, s.clk); err != nil {
		b.Fatal(err)
	}
	u, err := url.Parse(storetest.PostgresURL(b))
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "on")
	u.RawQuery = q.Encode()
	for i := range replicas {
		db, err := store.OpenPostgres(ctx, u.String(), store.Options{Clock: s.clk, Logger: s.log})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		s.dbs = append(s.dbs, db)
		if i == 0 {
			if _, err := db.Load(ctx, &dump); err != nil {
				b.Fatal(err)
			}
		}
		lg, err := ledger.New(ledger.Options{DB: db, Clock: s.clk, Keys: s.kc, Logger: s.log})
		if err != nil {
			b.Fatal(err)
		}
		s.hs = append(s.hs, New(Options{Ledger: lg, Clock: s.clk, Logger: s.log}).Handler())
	}
	s.h = http.NotFoundHandler() // every sync goes to a replica
	return s
}

// BenchmarkSyncPostgres is BenchmarkSync with the ledger in PostgreSQL and
// one server.
func BenchmarkSyncPostgres(b *testing.B) {
	s := newPostgresBenchServer(b, 1)
	benchSyncs(b, s, s.requests(b, b.N, s.seq))
}

// BenchmarkSyncPostgres2Replicas is BenchmarkSync with the ledger in
// PostgreSQL and two servers over it, the syncs alternating between them.
func BenchmarkSyncPostgres2Replicas(b *testing.B) {
	s := newPostgresBenchServer(b, 2)
	benchSyncs(b, s, s.requests(b, b.N, s.seq))
}
