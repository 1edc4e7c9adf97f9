// Package mosquitto starts a Mosquitto broker as a child process for tests
// on a free loopback port, never the machine's own broker on 1883.
//
// Without the mosquitto binary a test is skipped with a message naming the
// Debian package, except on CI (CI=true), where it fails.
package mosquitto

import (
	"fmt"
	"github.com/tollgate-iot/tollgate/internal/testkit/ports"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/syncbuf"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Anonymous is the config line that lets clients in without a password.
const Anonymous = "allow_anonymous true\n"

// startTimeout bounds how long a started broker may take to listen.
const startTimeout = 10 * time.Second

// Broker is a running mosquitto.
type Broker struct {
	URL  string // tcp://127.0.0.1:PORT
	Port int

	cmd  *exec.Cmd
	logs *syncbuf.Buffer
	once sync.Once
}

// Binary returns the path of the mosquitto binary, or "" when none is
// installed (Debian puts it in /usr/sbin, often outside PATH).
func Binary() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Require returns the mosquitto binary, or skips (fails on CI) the test.
func Require(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("mosquitto is required on CI (Debian package mosquitto)")
		}
		t.Skip("mosquitto not installed (Debian package mosquitto)")
	}
	return bin
}

// FreePort returns a loopback TCP port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	return ports.Free(t, 1)[0]
}

// Start runs mosquitto with a plain listener on a free loopback port plus
// the extra config lines (say Anonymous, a password_file, another
// listener), waits until it listens, and stops it when the test ends.
func Start(t testing.TB, extraConf string) *Broker {
	t.Helper()
	bin := Require(t)
	port := FreePort(t)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	// mosquitto started as root drops to user "mosquitto", which cannot
	// read the test's 0600 files; naming the current user keeps it as us.
	name := "mosquitto"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	body := fmt.Sprintf("user %s\nlistener %d 127.0.0.1\npersistence false\nlog_dest stderr\n%s", name, port, extraConf)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &Broker{URL: fmt.Sprintf("tcp://127.0.0.1:%d", port), Port: port, logs: &syncbuf.Buffer{}}
	b.cmd = exec.Command(bin, "-c", conf)
	b.cmd.Stderr = b.logs
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Kill)
	wall := clock.Real{}
	for deadline := wall.Now().Add(startTimeout); wall.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return b
		}
	}
	b.Kill()
	t.Fatalf("mosquitto did not listen on %d within %v:\n%s", port, startTimeout, b.Logs())
	return nil
}

// Kill stops the broker at once (a broker that goes away); later calls do
// nothing.
func (b *Broker) Kill() {
	b.once.Do(func() {
		b.cmd.Process.Kill()
		b.cmd.Wait()
	})
}

// Logs returns what mosquitto wrote so far.
func (b *Broker) Logs() string { return b.logs.String() }
