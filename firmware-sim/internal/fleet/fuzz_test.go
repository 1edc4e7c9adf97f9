package fleet

import (
	"strings"
	"testing"
)

func FuzzParseAgentURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:7780", "127.0.0.1:1", "[::1]:7780", "unix:/tmp/a.sock", "https://x:1", "http://x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		base, socket, err := ParseAgentURL(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(base, "http://") || (socket == "" && strings.HasPrefix(s, "unix:")) {
			t.Fatalf("ParseAgentURL(%q) = %q, %q", s, base, socket)
		}
		if socket == "" {
			if b2, _, err := ParseAgentURL(base); err != nil || b2 != base {
				t.Fatalf("base %q does not parse back: %q, %v", base, b2, err)
			}
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(`{"device_id":"gw-1","refused":{"no_license":2},"children":[{"device_id":"c1"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatus(b)
		if err != nil {
			return
		}
		if s.DeviceID == "" {
			t.Fatal("status without device_id accepted")
		}
	})
}
