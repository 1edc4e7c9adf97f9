package fleet

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseAgentURL(t *testing.T) {
	for _, tc := range []struct {
		name, in, base, socket string
		err                    error
	}{
		{"ok/http", "http://127.0.0.1:7780", "http://127.0.0.1:7780", "", nil},
		{"ok/slash", "http://127.0.0.1:7780/", "http://127.0.0.1:7780", "", nil},
		{"ok/bare", "127.0.0.1:7780", "http://127.0.0.1:7780", "", nil},
		{"ok/ipv6", "[::1]:7780", "http://[::1]:7780", "", nil},
		{"ok/unix", "unix:/run/agent.sock", "http://agent", "/run/agent.sock", nil},
		{"error/empty", "", "", "", ErrAgentURL},
		{"error/https", "https://127.0.0.1:7780", "", "", ErrAgentURL},
		{"error/path", "http://127.0.0.1:7780/v1/samples", "", "", ErrAgentURL},
		{"error/noport", "http://127.0.0.1", "", "", ErrAgentURL},
		{"error/user", "http://u:p@127.0.0.1:1", "", "", ErrAgentURL},
		{"error/unix-empty", "unix:", "", "", ErrAgentURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, socket, err := ParseAgentURL(tc.in)
			if !errors.Is(err, tc.err) || base != tc.base || socket != tc.socket {
				t.Fatalf("ParseAgentURL(%q) = %q, %q, %v", tc.in, base, socket, err)
			}
		})
	}
}

func TestFromData(t *testing.T) {
	dir := t.TempDir()
	if _, err := FromData(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("no agent.addr: %v", err)
	}
	os.WriteFile(filepath.Join(dir, AddrFile), []byte("127.0.0.1:41234\n"), 0o600)
	tg, err := FromData(dir)
	if err != nil || tg.Base != "http://127.0.0.1:41234" {
		t.Fatalf("FromData = %+v, %v", tg, err)
	}
	os.WriteFile(filepath.Join(dir, AddrFile), make([]byte, 4096), 0o600)
	if _, err := FromData(dir); !errors.Is(err, ErrAgentURL) {
		t.Fatalf("overlong agent.addr: %v", err)
	}
}

func TestParseStatus(t *testing.T) {
	s, err := ParseStatus([]byte(`{"device_id":"gw-1","refused":{"no_license":2,"over_budget":3},"children":[{"device_id":"c1","budget":{"accepted_total":5}}],"queue":{"depth":1}}`))
	if err != nil || !s.Gateway() || s.RefusedTotal() != 5 || s.Children[0].Budget.AcceptedTotal != 5 {
		t.Fatalf("ParseStatus = %+v, %v", s, err)
	}
	for _, bad := range []string{`{}`, `[]`, `{"device_id":"x","children":[{}]}`, `{"device_id":1}`} {
		if _, err := ParseStatus([]byte(bad)); !errors.Is(err, ErrStatus) {
			t.Fatalf("ParseStatus(%s) = %v", bad, err)
		}
	}
}
