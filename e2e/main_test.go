package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqkit "github.com/tollgate-iot/tollgate/internal/testkit/mosquitto"
	"github.com/tollgate-iot/tollgate/internal/testkit/syncbuf"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// bin holds the binaries TestMain built.
var bin string

var wall clock.Clock = clock.Real{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tollgate-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"github.com/tollgate-iot/tollgate/server/cmd/tollgate-server",
		"github.com/tollgate-iot/tollgate/server/cmd/tollgatectl",
		"github.com/tollgate-iot/tollgate/agent/cmd/tollgate-agent",
		"github.com/tollgate-iot/tollgate/firmware-sim/cmd/firmware-sim")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
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
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + os.TempDir()}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// proc is a long-running process of the test.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

type lockedBuffer = syncbuf.Buffer

// start runs a binary in the background until the test ends (SIGTERM,
// then SIGKILL) and waits until its stdout has a line starting with each
// of wants; it returns the rest of each such line.
func start(t testing.TB, name string, args []string, wants ...string) (*proc, []string) {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(filepath.Join(bin, name), args...), out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.TempDir()}
	p.cmd.Stderr = p.out
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.out.Write([]byte(sc.Text() + "\n"))
			select {
			case lines <- sc.Text():
			default:
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop() })
	got := make([]string, len(wants))
	deadline := wall.After(30 * time.Second)
	for i := 0; i < len(wants); {
		select {
		case l := <-lines:
			if rest, ok := strings.CutPrefix(l, wants[i]); ok {
				got[i] = strings.TrimSpace(rest)
				i++
			}
		case <-p.done:
			t.Fatalf("%s %v exited:\n%s", name, args, p.out.String())
		case <-deadline:
			t.Fatalf("%s %v: no line %q in 30 s:\n%s", name, args, wants[i], p.out.String())
		}
	}
	return p, got
}

// stop ends the process: SIGTERM, SIGKILL after 10 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-wall.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
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
