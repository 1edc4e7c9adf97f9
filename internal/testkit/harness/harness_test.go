package harness

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeT records what would fail a test; Fatalf ends the goroutine as
// testing.T's does.
type fakeT struct {
	mu       sync.Mutex
	fatal    string
	cleanups []func()
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

// do runs fn as a test body against f and returns the failure message.
func (f *fakeT) do(fn func(TB)) string {
	done := make(chan struct{})
	go func() { defer close(done); fn(f) }()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal
}

func sh(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proc.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWaitLineTimeoutReportsOutput(t *testing.T) {
	bin := sh(t, "echo starting up; echo on stderr too >&2; exec sleep 30")
	msg := (&fakeT{}).do(func(ft TB) {
		p := Start(ft, bin, nil, Options{})
		p.WaitLine(ft, "listening on ", 300*time.Millisecond)
	})
	for _, want := range []string{`no line "listening on "`, "starting up", "on stderr too"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure %q lacks %q", msg, want)
		}
	}
}

func TestWaitLineExitReportsOutput(t *testing.T) {
	bin := sh(t, "echo bad flag >&2; exit 2")
	msg := (&fakeT{}).do(func(ft TB) {
		Start(ft, bin, nil, Options{}).WaitLine(ft, "ready", 10*time.Second)
	})
	if !strings.Contains(msg, "exited") || !strings.Contains(msg, "bad flag") {
		t.Errorf("failure %q does not say the process exited with its output", msg)
	}
}

func TestWaitLineReturnsRestInOrder(t *testing.T) {
	p := Start(t, sh(t, "echo 'http: 127.0.0.1:1'; echo 'mqtt: 127.0.0.1:2'; echo extra; exec sleep 30"), nil, Options{})
	if got := p.WaitLine(t, "http: ", 0); got != "127.0.0.1:1" {
		t.Fatalf("http = %q", got)
	}
	if got := p.WaitLine(t, "mqtt: ", 0); got != "127.0.0.1:2" {
		t.Fatalf("mqtt = %q", got)
	}
	if l, ok := p.NextLine(5 * time.Second); !ok || l != "extra" {
		t.Fatalf("next line = %q %v", l, ok)
	}
}

func TestStopKillsProcessIgnoringSIGTERM(t *testing.T) {
	bin := sh(t, "trap '' TERM; echo ready; while :; do sleep 0.05; done")
	p := Start(t, bin, nil, Options{Grace: 300 * time.Millisecond})
	p.WaitLine(t, "ready", 0)
	err := p.Stop()
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Stop = %v, want ErrTimeout", err)
	}
	if !p.Exited() {
		t.Fatal("process still running after Stop")
	}
}

func TestStopEndsCleanProcess(t *testing.T) {
	p := Start(t, sh(t, "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done"), nil, Options{})
	p.WaitLine(t, "ready", 0)
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop = %v", err)
	}
}

func TestKillIsKill9(t *testing.T) {
	p := Start(t, sh(t, "trap '' TERM; echo ready; exec sleep 30"), nil, Options{})
	p.WaitLine(t, "ready", 0)
	p.Kill()
	if p.Err() == nil || !strings.Contains(p.Err().Error(), "killed") {
		t.Fatalf("exit = %v, want killed", p.Err())
	}
}

func TestCleanupStopsProcess(t *testing.T) {
	var p *Proc
	bin := sh(t, "echo ready; exec sleep 30")
	(&fakeT{}).do(func(ft TB) {
		p = Start(ft, bin, nil, Options{})
		p.WaitLine(ft, "ready", 0)
	})
	if !p.Exited() {
		t.Fatal("the test's cleanup did not stop the process")
	}
}

func TestWaitFileAndHTTP(t *testing.T) {
	addr := filepath.Join(t.TempDir(), "addr")
	p := Start(t, sh(t, "sleep 0.1; echo 127.0.0.1:9 > "+addr+"; exec sleep 30"), nil, Options{})
	if got := p.WaitFile(t, addr, 0); got != "127.0.0.1:9" {
		t.Fatalf("address file = %q", got)
	}
	var hits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if hits++; hits < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	p.WaitHTTP(t, srv.URL, 0)
	msg := (&fakeT{}).do(func(ft TB) { p.WaitHTTP(ft, srv.URL+"/x", 0) })
	if msg != "" {
		t.Fatalf("second probe failed: %s", msg)
	}
}

func TestRunTimeoutAndExitCode(t *testing.T) {
	r := Run(200*time.Millisecond, Options{}, sh(t, "exec sleep 30"))
	if !errors.Is(r.Err, ErrTimeout) || r.Code != -1 {
		t.Fatalf("Run past timeout = %+v", r)
	}
	r = Run(0, Options{Env: []string{"X=from-env"}}, sh(t, `echo "$X"; echo oops >&2; exit 3`))
	if r.Code != 3 || r.Stdout != "from-env\n" || r.Stderr != "oops\n" {
		t.Fatalf("Run = %+v", r)
	}
	msg := (&fakeT{}).do(func(ft TB) { MustRun(ft, 0, Options{}, sh(t, "echo why >&2; exit 1")) })
	if !strings.Contains(msg, "why") {
		t.Fatalf("MustRun failure %q lacks stderr", msg)
	}
}

func TestEventuallyFailsWithMessage(t *testing.T) {
	msg := (&fakeT{}).do(func(ft TB) {
		Eventually(ft, 50*time.Millisecond, func() bool { return false }, "the marker sample")
	})
	if !strings.Contains(msg, "waiting for the marker sample") {
		t.Fatalf("failure %q lacks what was awaited", msg)
	}
	n := 0
	msg = (&fakeT{}).do(func(ft TB) {
		Eventually(ft, 5*time.Second, func() bool { n++; return n > 3 }, "three polls")
	})
	if msg != "" {
		t.Fatalf("Eventually failed though the condition came true: %s", msg)
	}
}

func TestBuildOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	defer Cleanup()
	const pkg = "github.com/tollgate-iot/tollgate/firmware-sim/cmd/firmware-sim"
	dir, err := Build(pkg)
	if err != nil {
		t.Fatal(err)
	}
	bin := Binary(pkg)
	st, err := os.Stat(bin)
	if err != nil || filepath.Dir(bin) != dir {
		t.Fatalf("binary %s: %v", bin, err)
	}
	if _, err := Build(pkg); err != nil {
		t.Fatal(err)
	}
	again, _ := os.Stat(bin)
	if !again.ModTime().Equal(st.ModTime()) {
		t.Fatal("second Build rebuilt the package")
	}
	if _, err := Build("github.com/tollgate-iot/tollgate/no/such/cmd"); !errors.Is(err, ErrBuild) {
		t.Fatalf("Build of a missing package = %v", err)
	}
}

func TestProcEventuallyShowsOutput(t *testing.T) {
	p := Start(t, sh(t, "echo agent says why >&2; exec sleep 30"), nil, Options{})
	Eventually(t, 10*time.Second, func() bool { return strings.Contains(p.Output(), "why") }, "the stderr line")
	msg := (&fakeT{}).do(func(ft TB) {
		p.Eventually(ft, 50*time.Millisecond, func() bool { return false }, "the sample upstream")
	})
	if !strings.Contains(msg, "waiting for the sample upstream") || !strings.Contains(msg, "agent says why") {
		t.Fatalf("failure %q lacks what was awaited or the output", msg)
	}
}
