// Package fleet finds what firmware-sim drives: the agents named on the
// command line (--agent URL or --data DIR), and, from each agent's own
// status, the devices it serves — its own device, or a gateway's children.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/limits"
)

// Errors of the fleet.
var (
	// ErrAgentURL reports an --agent value that is not an agent address.
	ErrAgentURL = errors.New("invalid agent address")
	// ErrNotRunning reports a data directory whose agent is not running
	// (no DATA/agent.addr, which `tollgate-agent run` writes).
	ErrNotRunning = errors.New("agent not running")
	// ErrStatus reports an agent whose status could not be read.
	ErrStatus = errors.New("agent status")
	// ErrToken reports an --agent-token-file that cannot be read.
	ErrToken = errors.New("agent token file unusable")
)

// AddrFile is the file in an agent's data directory where `tollgate-agent
// run` records the address of its local API (ingest, status, metrics).
const AddrFile = "agent.addr"

// Target is one agent to drive.
type Target struct {
	// Name is what the user gave: the URL or the data directory.
	Name string
	// Base is the base URL of the agent's local API.
	Base string
	// Client talks to the agent (over TCP or its unix socket).
	Client *http.Client
}

// UseToken makes every request to the agent carry its local API token
// (Authorization: Bearer), for agents run with local_token_file.
func (t *Target) UseToken(token string) {
	t.Client.Transport = bearer{token: token, next: t.Client.Transport}
}

// bearer adds the local API token to each request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// ReadTokenFile reads an agent's local API token: the file's one line.
func ReadTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrToken, err)
	}
	defer f.Close()
	buf := make([]byte, limits.MaxTokenFileBytes+1)
	n, _ := io.ReadFull(f, buf)
	if n > limits.MaxTokenFileBytes {
		return "", fmt.Errorf("%w: %s is over %d bytes", ErrToken, path, limits.MaxTokenFileBytes)
	}
	tok, err := ParseToken(buf[:n])
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return tok, nil
}

// ParseToken reads a token file's content: one line of printable ASCII
// without spaces (the agent checks its length).
func ParseToken(b []byte) (string, error) {
	tok := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if tok == "" {
		return "", fmt.Errorf("%w: empty", ErrToken)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] > '~' {
			return "", fmt.Errorf("%w: character %d is not printable ASCII (one line, no spaces)", ErrToken, i+1)
		}
	}
	return tok, nil
}

// ParseAgentURL reads an --agent value: http://HOST:PORT on a loopback or
// private address, HOST:PORT, or unix:PATH. It returns the base URL and,
// for unix:, the socket path.
func ParseAgentURL(s string) (base, socket string, err error) {
	if s == "" || len(s) > limits.MaxArgBytes {
		return "", "", fmt.Errorf("%w: want http://HOST:PORT or unix:PATH (%d bytes)", ErrAgentURL, len(s))
	}
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if p == "" || strings.ContainsRune(p, 0) {
			return "", "", fmt.Errorf("%w: unix: needs a socket path", ErrAgentURL)
		}
		return "http://agent", p, nil
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrAgentURL, err)
	}
	if u.Scheme != "http" {
		return "", "", fmt.Errorf("%w: scheme %q, want http (the agent's local API)", ErrAgentURL, u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", "", fmt.Errorf("%w: want only http://HOST:PORT", ErrAgentURL)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" || port == "" {
		return "", "", fmt.Errorf("%w: want HOST:PORT, got %q", ErrAgentURL, u.Host)
	}
	return "http://" + net.JoinHostPort(host, port), "", nil
}

// FromURL returns the target of an --agent value.
func FromURL(s string) (*Target, error) {
	base, socket, err := ParseAgentURL(s)
	if err != nil {
		return nil, err
	}
	return &Target{Name: s, Base: base, Client: client(socket)}, nil
}

// FromData returns the target of a --data directory: the running agent's
// local API as recorded in DATA/agent.addr.
func FromData(dir string) (*Target, error) {
	if dir == "" || len(dir) > limits.MaxArgBytes {
		return nil, fmt.Errorf("%w: empty or overlong data directory", ErrNotRunning)
	}
	f, err := os.Open(filepath.Join(dir, AddrFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: start `tollgate-agent run --data %s` first (%v)", ErrNotRunning, dir, dir, err)
	}
	defer f.Close()
	buf := make([]byte, limits.MaxAddrFileBytes+1)
	n, _ := f.Read(buf)
	if n > limits.MaxAddrFileBytes {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrAgentURL, filepath.Join(dir, AddrFile), limits.MaxAddrFileBytes)
	}
	addr := strings.TrimSpace(string(buf[:n]))
	base, socket, err := ParseAgentURL(addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, AddrFile), err)
	}
	return &Target{Name: dir, Base: base, Client: client(socket)}, nil
}

func client(socket string) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, ResponseHeaderTimeout: limits.RequestTimeout}
	if socket != "" {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		}
	}
	return &http.Client{Transport: tr, Timeout: limits.RequestTimeout}
}
