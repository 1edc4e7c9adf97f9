package e2e

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Bounds of TestReplicasOnPostgres.
const (
	replicaCount    = 3
	replicaKills    = 20 // kill -9 of a replica under sync load, each restarted
	replicaProgress = 15 // deductions acknowledged between two kills
	replicaDeadline = 3 * time.Minute
	// replicaLease is the replicas' --scheduler-lease; leaseTakeover
	// bounds the wait for another replica to take the lease after its
	// holder is killed: the lease's lifetime and a renewal period.
	replicaLease  = "3s"
	leaseTakeover = 15 * time.Second
)

// replicaSet is several tollgate-server processes over one PostgreSQL
// database, each with its own data directory holding the same signing keys.
type replicaSet struct {
	t  *testing.T
	rs []*killServer
	// failovers counts syncs an agent sent to the next replica because the
	// one it tried was down or was killed mid-request.
	failovers atomic.Int64
}

// copyKeys gives a replica's data directory the signing keys of the first:
// every replica signs with the same key (docs/deploy.md).
func copyKeys(t *testing.T, from, to string) {
	t.Helper()
	src, dst := filepath.Join(from, "keys"), filepath.Join(to, "keys")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// sync sends one report of d to replica i and, when that replica is down
// or dies while answering, to the next ones, as an agent with several
// server URLs does. Each attempt is a new request (new nonce): a request
// the dead replica may have applied is acknowledged again, never charged
// twice.
func (s *replicaSet) sync(ctx context.Context, trust *token.Trust, d *killDevice, i, round, n int) {
	for try := range replicaCount {
		text, nonce := d.report(s.t, round, n)
		n = 0 // a retry writes no new records
		if sendSync(ctx, s.t, *s.rs[(i+try)%replicaCount].url.Load(), trust, d, text, nonce) {
			return
		}
		s.failovers.Add(1)
	}
	time.Sleep(10 * time.Millisecond) // every replica refused: back off a little
}

// leaseHolders returns the replicas whose /metrics say they hold the
// scheduler's lease.
func (s *replicaSet) leaseHolders() []int {
	var out []int
	for i, r := range s.rs {
		if r.proc.Exited() {
			continue
		}
		resp, err := http.Get(*r.url.Load() + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "\ntollgate_scheduler_lease_held 1\n") {
			out = append(out, i)
		}
	}
	return out
}

// TestReplicasOnPostgres runs three tollgate-server replicas over one
// PostgreSQL database (issue: stateless replicas):
//   - the same signed sync sent to two replicas at once is applied by one
//     and refused as a replay by the other; one day is charged;
//   - devices sync through all three, failing over to the next replica when
//     one is down, while replicas are killed with SIGKILL replicaKills times
//     (each restarted); at the end every acknowledged deduction is in the
//     ledger once, none twice, and each license's days left are its days
//     less the deductions charged;
//   - exactly one replica holds the scheduler's lease, and when it is
//     killed another takes it over.
func TestReplicasOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills three servers")
	}
	pg := storetest.PostgresURL(t)
	bin := build(t)
	dir := t.TempDir()
	set := &replicaSet{t: t}
	for i := range replicaCount {
		set.rs = append(set.rs, &killServer{t: t, bin: bin, data: filepath.Join(dir, "replica-"+string(rune('a'+i))), extra: []string{"--store", pg, "--scheduler-lease", replicaLease}})
	}
	var init struct {
		AdminKey string `json:"admin_api_key"`
	}
	out := harness.MustRun(t, 0, harness.Options{}, filepath.Join(bin, "tollgate-server"), "init", "--data", set.rs[0].data, "--store", pg, "-o", "json")
	if err := json.Unmarshal([]byte(out), &init); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}
	for _, r := range set.rs[1:] {
		copyKeys(t, set.rs[0].data, r.data)
	}
	for _, r := range set.rs {
		r.start()
		t.Cleanup(r.stop)
	}
	trustOut := filepath.Join(dir, "trust.json")
	harness.MustRun(t, 0, harness.Options{}, filepath.Join(bin, "tollgate-server"), "trust", "--data", set.rs[0].data, "--out", trustOut)
	raw, err := os.ReadFile(trustOut)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := token.ParseTrustBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	admin := &killAdmin{t: t, s: set.rs[0], key: init.AdminKey}
	devices := admin.provision()

	t.Run("same sync to two replicas applies once", func(t *testing.T) {
		d := devices[0]
		text, _ := d.report(t, 1, 1)
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				resp, err := http.Post(*set.rs[i+1].url.Load()+"/v1/device/sync", "text/plain", strings.NewReader(text))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[i] = resp.StatusCode
			})
		}
		wg.Wait()
		if !(codes[0] == 200 && codes[1] == 409 || codes[0] == 409 && codes[1] == 200) {
			t.Fatalf("answers %v: want one 200 and one 409 replay", codes)
		}
		d.ack(t, 1)
		admin.check(d)
	})

	ctx, cancel := context.WithTimeout(context.Background(), replicaDeadline)
	defer cancel()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for k, d := range devices {
		wg.Go(func() {
			for round := 0; !stop.Load() && ctx.Err() == nil; round++ {
				set.sync(ctx, trust, d, k+round, round, 1+round%2)
			}
		})
	}
	total := func() (n int64) {
		for _, d := range devices {
			d.mu.Lock()
			n += d.acked
			d.mu.Unlock()
		}
		return n
	}
	rng := rand.New(rand.NewPCG(7, 17))
	kills := 0
	for range replicaKills {
		want := total() + replicaProgress
		for total() < want {
			if ctx.Err() != nil {
				t.Fatalf("no progress: %d acked, want %d (kill %d)", total(), want, kills)
			}
			time.Sleep(5 * time.Millisecond) // paces the progress poll; the workers drive the load
		}
		r := set.rs[rng.IntN(replicaCount)]
		r.kill()
		kills++
		r.start()
	}
	stop.Store(true)
	wg.Wait()
	drain(ctx, t, devices, func(d *killDevice, i int) { set.sync(ctx, trust, d, i, 1, 0) })
	var acked int64
	for _, d := range devices {
		admin.check(d)
		acked += d.acked
	}
	t.Logf("%d deductions of %d devices acked through %d replicas across %d kills; %d syncs failed over to another replica",
		acked, len(devices), replicaCount, kills, set.failovers.Load())

	// The scheduler's lease: one holder; killed, another takes over.
	var holders []int
	harness.Eventually(t, leaseTakeover, func() bool { holders = set.leaseHolders(); return len(holders) == 1 }, "one replica holds the scheduler lease")
	old := holders[0]
	set.rs[old].kill()
	harness.Eventually(t, leaseTakeover, func() bool { holders = set.leaseHolders(); return len(holders) == 1 && holders[0] != old },
		"another replica takes the scheduler lease after its holder is killed")
	t.Logf("scheduler lease moved from replica %d to replica %d", old, holders[0])
}
