package store

import (
	"bytes"
	"testing"
)

// TestStatsKeysOrderAndParts: the ordered statistics indexes sort by their
// number, stay inside their customer's prefix, and KeyPart reads back each
// part the ledger parses.
func TestStatsKeysOrderAndParts(t *testing.T) {
	early, late := StatsEndKey("acme", 9_000_000, "b"), StatsEndKey("acme", 10_000_000, "a")
	if bytes.Compare(early, late) >= 0 {
		t.Errorf("StatsEndKey does not sort by instant: %q >= %q", early, late)
	}
	if !bytes.HasPrefix(late, StatsEndPrefix("acme")) || bytes.HasPrefix(late, StatsEndPrefix("acm")) {
		t.Errorf("%q: wrong customer prefix", late)
	}
	if bytes.Compare(StatsDaysKey("acme", 7, "z"), StatsDaysKey("acme", 29, "a")) >= 0 {
		t.Error("StatsDaysKey does not sort by days")
	}
	if bytes.Compare(StatsOfflineKey("acme", 5, "z"), StatsOfflineKey("acme", 50, "a")) >= 0 {
		t.Error("StatsOfflineKey does not sort by deadline")
	}
	k := StatsKindKey("acme", "standard,term,1000,sensor-*+x.1", "pending_start")
	for i, want := range []string{"xk", "acme", "standard,term,1000,sensor-*+x.1", "pending_start", ""} {
		if got := KeyPart(k, i); got != want {
			t.Errorf("KeyPart(%q, %d) = %q, want %q", k, i, got, want)
		}
	}
	if got := KeyPart(late, 2); got != "00000000000010000000" {
		t.Errorf("KeyPart(end key, 2) = %q", got)
	}
}
