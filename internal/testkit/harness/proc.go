package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/syncbuf"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// TB is the part of testing.TB the harness uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Errors the harness reports.
var (
	ErrBuild   = errors.New("harness: build failed")
	ErrTimeout = errors.New("harness: timed out")
)

// Defaults.
const (
	// DefaultReady bounds a readiness wait given no timeout.
	DefaultReady = 30 * time.Second
	// DefaultGrace is how long Stop waits after SIGTERM before SIGKILL.
	DefaultGrace = 10 * time.Second
	// DefaultRun bounds Run given no timeout.
	DefaultRun = 2 * time.Minute
	// pollEvery is how often Eventually and the file and HTTP waits look.
	pollEvery = 10 * time.Millisecond
)

var wall clock.Clock = clock.Real{}

// MinimalEnv is the environment a process gets when Options.Env is nil
// and Options.Inherit is false: a PATH and a HOME, nothing of the
// developer's shell.
func MinimalEnv() []string { return []string{"PATH=/usr/bin:/bin", "HOME=" + os.TempDir()} }

// Options says how to start a process.
type Options struct {
	// Env is added to MinimalEnv (or to the test's environment if
	// Inherit).
	Env     []string
	Inherit bool
	// Dir is the working directory ("" is the test's).
	Dir string
	// Grace is how long Stop waits after SIGTERM (0: DefaultGrace).
	Grace time.Duration
}

func (o Options) env() []string {
	base := MinimalEnv()
	if o.Inherit {
		base = os.Environ()
	}
	return append(base, o.Env...)
}

// Proc is a running process of the test.
type Proc struct {
	Name   string
	cmd    *exec.Cmd
	grace  time.Duration
	stdout syncbuf.Buffer
	stderr syncbuf.Buffer
	all    syncbuf.Buffer // stdout and stderr interleaved

	mu      sync.Mutex
	lines   []string      // stdout lines so far
	changed chan struct{} // closed and replaced on each new line and at exit
	next    int           // first line WaitLine has not consumed

	done chan struct{}
	err  error // exit error, set before done closes
}

// Start runs path with args until the test ends (then SIGTERM, SIGKILL
// after the grace). It returns at once: wait for readiness with WaitLine,
// WaitFile or WaitHTTP.
func Start(t TB, path string, args []string, o Options) *Proc {
	t.Helper()
	p := &Proc{Name: path, cmd: exec.Command(path, args...), grace: o.Grace, changed: make(chan struct{}), done: make(chan struct{})}
	if p.grace <= 0 {
		p.grace = DefaultGrace
	}
	p.cmd.Env, p.cmd.Dir = o.env(), o.Dir
	p.cmd.Stderr = io.MultiWriter(&p.stderr, &p.all)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.stdout.Write([]byte(line + "\n"))
			p.all.Write([]byte(line + "\n"))
			p.mu.Lock()
			p.lines = append(p.lines, line)
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.Stop() })
	return p
}

// Stdout, Stderr and Output (both, interleaved) return what the process
// wrote so far.
func (p *Proc) Stdout() string { return p.stdout.String() }
func (p *Proc) Stderr() string { return p.stderr.String() }
func (p *Proc) Output() string { return p.all.String() }

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process is gone.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process is gone.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the exit error once the process is gone.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop ends the process: SIGTERM, then SIGKILL after the grace. It
// returns the exit error (nil for a clean exit) and is idempotent.
func (p *Proc) Stop() error {
	if p.Exited() {
		return p.err
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-wall.After(p.grace):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%w: %s ignored SIGTERM for %s, killed", ErrTimeout, p.Name, p.grace)
	}
	return p.err
}

// StopClean is Stop that fails the test unless the process exits cleanly
// within the grace.
func (p *Proc) StopClean(t TB) {
	t.Helper()
	if err := p.Stop(); err != nil {
		t.Fatalf("%s exit: %v\n%s", p.Name, err, p.Output())
	}
}

// Kill sends SIGKILL (kill -9) and waits until the process is gone.
func (p *Proc) Kill() {
	if !p.Exited() {
		p.cmd.Process.Kill()
	}
	<-p.done
}

// Wait waits up to timeout for the process to exit by itself and returns
// its exit error; past the timeout it fails the test with the output.
func (p *Proc) Wait(t TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-wall.After(timeout):
		t.Fatalf("%s did not exit within %s:\n%s", p.Name, timeout, p.Output())
		return nil
	}
}

// WaitLine waits for a stdout line starting with prefix, after the lines
// earlier WaitLine calls consumed, and returns the rest of it, trimmed.
// It fails the test with the process's output when the process exits or
// timeout (0: DefaultReady) passes first.
func (p *Proc) WaitLine(t TB, prefix string, timeout time.Duration) string {
	t.Helper()
	if timeout <= 0 {
		timeout = DefaultReady
	}
	deadline := wall.After(timeout)
	for {
		p.mu.Lock()
		for p.next < len(p.lines) {
			l := p.lines[p.next]
			p.next++
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				p.mu.Unlock()
				return strings.TrimSpace(rest)
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-p.done:
			p.mu.Lock()
			more := p.next < len(p.lines)
			p.mu.Unlock()
			if !more {
				t.Fatalf("%s exited (%v) before printing %q:\n%s", p.Name, p.err, prefix, p.Output())
				return ""
			}
		case <-deadline:
			t.Fatalf("%s: no line %q within %s:\n%s", p.Name, prefix, timeout, p.Output())
			return ""
		}
	}
}

// NextLine waits up to timeout for the next stdout line WaitLine has not
// consumed; ok is false if none came.
func (p *Proc) NextLine(timeout time.Duration) (line string, ok bool) {
	deadline := wall.After(timeout)
	for {
		p.mu.Lock()
		if p.next < len(p.lines) {
			l := p.lines[p.next]
			p.next++
			p.mu.Unlock()
			return l, true
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-p.done:
			p.mu.Lock()
			more := p.next < len(p.lines)
			p.mu.Unlock()
			if !more {
				return "", false
			}
		case <-deadline:
			return "", false
		}
	}
}

// WaitFile waits until path exists and is not empty and returns its
// content, trimmed (an address file); it fails like WaitLine.
func (p *Proc) WaitFile(t TB, path string, timeout time.Duration) string {
	t.Helper()
	var got string
	p.waitFor(t, timeout, "file "+path, func() bool {
		b, err := os.ReadFile(path)
		got = strings.TrimSpace(string(b))
		return err == nil && got != ""
	})
	return got
}

// probeClient bounds each readiness probe.
var probeClient = &http.Client{Timeout: 2 * time.Second}

// WaitHTTP waits until a GET of url answers 200; it fails like WaitLine.
func (p *Proc) WaitHTTP(t TB, url string, timeout time.Duration) {
	t.Helper()
	p.waitFor(t, timeout, "HTTP 200 from "+url, func() bool {
		resp, err := probeClient.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (p *Proc) waitFor(t TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if timeout <= 0 {
		timeout = DefaultReady
	}
	deadline := wall.After(timeout)
	tick := wall.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		select {
		case <-p.done:
			if cond() {
				return
			}
			t.Fatalf("%s exited (%v) before %s:\n%s", p.Name, p.err, what, p.Output())
			return
		case <-deadline:
			t.Fatalf("%s: no %s within %s:\n%s", p.Name, what, timeout, p.Output())
			return
		case <-tick.C():
		}
	}
}

// Result is what a process run to completion left.
type Result struct {
	Stdout, Stderr string
	Code           int   // exit code; -1 if killed by a signal or the timeout
	Err            error // nil on exit 0; wraps ErrTimeout past the timeout
}

// Run runs path with args to completion within timeout (0: DefaultRun).
func Run(timeout time.Duration, o Options, path string, args ...string) Result {
	if timeout <= 0 {
		timeout = DefaultRun
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env, cmd.Dir = o.env(), o.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
	if cmd.ProcessState != nil {
		r.Code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		r.Code, r.Err = -1, fmt.Errorf("%w: %s after %s: %v", ErrTimeout, path, timeout, err)
	}
	return r
}

// MustRun is Run that fails the test with stderr unless the command
// exits 0, and returns stdout.
func MustRun(t TB, timeout time.Duration, o Options, path string, args ...string) string {
	t.Helper()
	r := Run(timeout, o, path, args...)
	if r.Err != nil {
		t.Fatalf("%s %s: %v\n%s", path, strings.Join(args, " "), r.Err, r.Stderr)
	}
	return r.Stdout
}

// Eventually polls cond until it holds; after timeout it fails the test
// saying what it waited for.
func Eventually(t TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	eventually(t, timeout, cond, func() string { return what })
}

// outputTail bounds the process output a failed Proc.Eventually shows.
const outputTail = 4000

// Eventually is the package's Eventually that also shows the end of the
// process's output when it fails.
func (p *Proc) Eventually(t TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	eventually(t, timeout, cond, func() string {
		out := p.Output()
		if len(out) > outputTail {
			out = "…" + out[len(out)-outputTail:]
		}
		return what + "\n" + p.Name + " output:\n" + out
	})
}

func eventually(t TB, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := wall.After(timeout)
	tick := wall.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			if cond() {
				return
			}
			t.Fatalf("timed out after %s waiting for %s", timeout, what())
			return
		case <-tick.C():
		}
	}
}
