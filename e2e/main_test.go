package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	mqkit "github.com/tollgate-iot/tollgate/internal/testkit/mosquitto"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// bin holds the binaries TestMain built.
var bin string

var wall clock.Clock = clock.Real{}

func TestMain(m *testing.M) {
	dir, err := harness.Build(
		"github.com/tollgate-iot/tollgate/server/cmd/tollgate-server",
		"github.com/tollgate-iot/tollgate/server/cmd/tollgatectl",
		"github.com/tollgate-iot/tollgate/agent/cmd/tollgate-agent",
		"github.com/tollgate-iot/tollgate/firmware-sim/cmd/firmware-sim")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}

// run runs a binary to completion with env added to a minimal environment
// and returns its stdout; a failure ends the test with stderr.
func run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	out, errOut, err := runErr(env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errOut)
	}
	return out
}

func runErr(env []string, name string, args ...string) (string, string, error) {
	return runWithin(2*time.Minute, env, name, args...)
}

// runWithin is runErr with a deadline other than 2 minutes.
func runWithin(d time.Duration, env []string, name string, args ...string) (string, string, error) {
	r := harness.Run(d, harness.Options{Env: env}, filepath.Join(bin, name), args...)
	return r.Stdout, r.Stderr, r.Err
}

// startTimeout bounds the wait for each line start waits for.
const startTimeout = 30 * time.Second

// start runs a binary in the background until the test ends (SIGTERM,
// then SIGKILL) and waits until its stdout has a line starting with each
// of wants, in order; it returns the rest of each such line.
func start(t testing.TB, name string, args []string, wants ...string) (*harness.Proc, []string) {
	t.Helper()
	p := harness.Start(t, filepath.Join(bin, name), args, harness.Options{})
	got := make([]string, len(wants))
	for i, w := range wants {
		got[i] = p.WaitLine(t, w, startTimeout)
	}
	return p, got
}

// freePort returns a free loopback TCP port.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// mosquitto starts a Mosquitto broker on a free loopback port and returns
// its tcp:// URL. Without the binary the test is skipped, except on CI.
// Its queues are unbounded: a QoS 1 subscriber that falls behind (a
// gateway's bridge, the test's sink) must not lose messages to the default
// limit of 1,000.
func mosquitto(t testing.TB) string {
	t.Helper()
	return mqkit.Start(t, mqkit.Anonymous+"max_queued_messages 0\nmax_inflight_messages 1000\nlog_type error\n").URL
}
