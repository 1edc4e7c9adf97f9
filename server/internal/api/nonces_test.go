package api

import (
	"fmt"
	"testing"
	"time"
)

func TestNonceCache(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		run  func(c *nonceCache) bool
		want bool
	}{
		{"ok/new", func(c *nonceCache) bool { return c.add("d", "n1", t0.Add(SyncWindow), t0) }, true},
		{"error/replay", func(c *nonceCache) bool {
			c.add("d", "n1", t0.Add(SyncWindow), t0)
			return c.add("d", "n1", t0.Add(SyncWindow), t0.Add(time.Minute))
		}, false},
		{"ok/same-nonce-other-device", func(c *nonceCache) bool {
			c.add("d", "n1", t0.Add(SyncWindow), t0)
			return c.add("e", "n1", t0.Add(SyncWindow), t0)
		}, true},
		{"ok/forgotten-after-expiry", func(c *nonceCache) bool {
			c.add("d", "n1", t0.Add(SyncWindow), t0)
			return c.add("d", "n1", t0.Add(3*SyncWindow), t0.Add(2*SyncWindow))
		}, true},
		{"ok/oldest-evicted-when-full", func(c *nonceCache) bool {
			for i := range 4 {
				c.add("d", fmt.Sprint(i), t0.Add(SyncWindow), t0)
			}
			return c.add("d", "0", t0.Add(SyncWindow), t0) && len(c.seen) <= 4
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.run(newNonceCache(4)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
