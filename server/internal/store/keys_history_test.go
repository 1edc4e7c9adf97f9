package store

import (
	"bytes"
	"testing"
)

// TestRenewalKeys round-trips a renewal key, orders keys by period start
// (so a report scans a period as one range), and refuses other keys.
func TestRenewalKeys(t *testing.T) {
	k := RenewalKey("acme", 1777593600, "5b0e-lic", 42)
	start, lic, seq, ok := RenewalParts(k)
	if !ok || start != 1777593600 || lic != "5b0e-lic" || seq != 42 {
		t.Fatalf("RenewalParts(%s) = %d %q %d %v", k, start, lic, seq, ok)
	}
	if !bytes.HasPrefix(k, RenewalPrefix("acme")) || bytes.HasPrefix(k, RenewalPrefix("acm")) {
		t.Fatalf("%s under the wrong prefix", k)
	}
	if bytes.Compare(RenewalKey("acme", 9, "z", 1), RenewalKey("acme", 10, "a", 1)) >= 0 {
		t.Fatal("renewal keys not in period-start order")
	}
	if bytes.Compare(RenewalFrom("acme", 10), RenewalKey("acme", 10, "a", 1)) >= 0 ||
		bytes.Compare(RenewalFrom("acme", 10), RenewalKey("acme", 9, "z", 1)) <= 0 {
		t.Fatal("RenewalFrom does not sit between the seconds")
	}
	for _, bad := range [][]byte{LicenseHistoryKey("l", 1), []byte("lr/acme/x/l/1"), []byte("lr/acme/1/l")} {
		if _, _, _, ok := RenewalParts(bad); ok {
			t.Errorf("RenewalParts(%s) accepted", bad)
		}
	}
}
