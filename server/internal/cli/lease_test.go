package cli

import (
	"bufio"
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// replica is one tollgate-server serve of several over one PostgreSQL
// ledger.
type replica struct {
	url  string
	stop func()
}

func startReplica(t *testing.T, dir, pg string) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--data", dir, "--store", pg, "--http", "127.0.0.1:0", "--log-level", "error",
			"--scheduler-interval", "1s"}, pw, &stderrBuf{t: t})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http: ") {
		cancel()
		t.Fatalf("serve printed %q, %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	r := &replica{url: strings.TrimSpace(strings.TrimPrefix(line, "http: "))}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	}
	t.Cleanup(r.stop)
	return r
}

// leaseHeld reads the replica's tollgate_scheduler_lease_held gauge.
func (r *replica) leaseHeld(t *testing.T) bool {
	t.Helper()
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "tollgate_scheduler_lease_held ") {
			return strings.TrimSpace(strings.TrimPrefix(l, "tollgate_scheduler_lease_held ")) == "1"
		}
	}
	t.Fatal("no tollgate_scheduler_lease_held in /metrics")
	return false
}

// TestSchedulerLeaseMovesBetweenReplicas: two servers over one PostgreSQL
// ledger (sharing the signing keys): exactly one runs the scheduler; when
// it shuts down, the other takes the lease within a renewal interval.
func TestSchedulerLeaseMovesBetweenReplicas(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dirA := t.TempDir()
	if code, _, stderr := run(t, "init", "--data", dirA, "--store", pg, "-o", "json"); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	dirB := t.TempDir()
	if err := os.CopyFS(dirB, os.DirFS(dirA)); err != nil {
		t.Fatal(err)
	}
	// The key store refuses files others may read: copy the modes too.
	err := filepath.WalkDir(dirB, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dirB {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o700)
		}
		return os.Chmod(p, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := startReplica(t, dirA, pg), startReplica(t, dirB, pg)
	clk := clock.Real{}
	deadline := clk.Now().Add(30 * time.Second)
	var ha, hb bool
	for clk.Now().Before(deadline) {
		if ha, hb = a.leaseHeld(t), b.leaseHeld(t); ha != hb {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ha == hb {
		t.Fatalf("lease held by A %v, by B %v: want exactly one", ha, hb)
	}
	holder, other := a, b
	if hb {
		holder, other = b, a
	}
	for range 5 { // it stays put while the holder lives
		time.Sleep(200 * time.Millisecond)
		if !holder.leaseHeld(t) || other.leaseHeld(t) {
			t.Fatal("the lease moved while its holder ran")
		}
	}
	holder.stop()
	start := clk.Now()
	for !other.leaseHeld(t) {
		if clk.Now().Sub(start) > 20*time.Second {
			t.Fatal("the other replica did not take the lease within 20 s of the holder's shutdown")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("lease taken over %v after the holder stopped", clk.Now().Sub(start).Round(100*time.Millisecond))
}

// stderrBuf logs what a replica writes to stderr.
type stderrBuf struct{ t *testing.T }

func (s *stderrBuf) Write(p []byte) (int, error) {
	s.t.Logf("serve: %s", p)
	return len(p), nil
}
