package store

import (
	"bytes"
	"testing"
)

func TestIssuedKeyRoundTripAndOrder(t *testing.T) {
	k := IssuedKey("dist", 1_780_000_000, "lic-1")
	created, id, ok := IssuedParts(k)
	if !ok || created != 1_780_000_000 || id != "lic-1" {
		t.Fatalf("IssuedParts(%s) = %d, %q, %v", k, created, id, ok)
	}
	if !bytes.HasPrefix(k, IssuedPrefix("dist")) || bytes.HasPrefix(k, IssuedPrefix("dis")) {
		t.Fatalf("%s under the wrong prefix", k)
	}
	if bytes.Compare(IssuedFrom("dist", 1_780_000_000), k) >= 0 || bytes.Compare(k, IssuedFrom("dist", 1_780_000_001)) >= 0 {
		t.Fatalf("%s not between the bounds of its second", k)
	}
	for _, bad := range [][]byte{RenewalKey("dist", 1, "l", 1), []byte("li/dist/x/lic"), []byte("li/dist/00000000000000000001/")} {
		if _, _, ok := IssuedParts(bad); ok {
			t.Fatalf("IssuedParts(%s) accepted another key", bad)
		}
	}
}
