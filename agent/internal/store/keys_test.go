package store

import (
	"bytes"
	"errors"
	"testing"
)

func TestKeyHelpers(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"identity", KeyIdentity(), "m/identity"},
		{"trust", KeyTrust(), "m/trust"},
		{"revocation", KeyRevocation(), "m/revocation"},
		{"clock", KeyClock(), "m/clock"},
		{"outbox-head", KeyOutboxHead(), "m/outbox_head"},
		{"dropped", KeyDropped(), "m/outbox_dropped"},
		{"outbox-acked", KeyOutboxAcked(), "m/outbox_acked"},
		{"token", KeyToken("lic"), "t/lic"},
		{"version", KeyVersion("lic"), "v/lic"},
		{"deduction", KeyDeduction("dev", 258), "d/dev/\x00\x00\x00\x00\x00\x00\x01\x02"},
		{"deduction-seq", KeyDeductionSeq("dev"), "ds/dev"},
		{"bucket", KeyBucket("dev", 1), "b/dev/\x00\x00\x00\x00\x00\x00\x00\x01"},
		{"totals", KeyTotals("dev"), "n/dev"},
		{"sample-seq", KeySampleSeq("dev"), "s/dev"},
		{"self-blacklist", KeySelfBlacklist("dev"), "x/dev"},
		{"refused", KeyRefused("over_budget"), "r/over_budget"},
		{"refused-hour", KeyRefusedHour("dev", 258), "rh/dev/\x00\x00\x00\x00\x00\x00\x01\x02"},
		{"refused-by", KeyRefusedBy("dev", 258), "rb/dev/\x00\x00\x00\x00\x00\x00\x01\x02"},
		{"outbox", KeyOutbox(1 << 40), "o/\x00\x00\x01\x00\x00\x00\x00\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Fatalf("key %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestKeyPrefixesAreDisjoint(t *testing.T) {
	// A device named like another's prefix must not see its records.
	a, b := PrefixDeductions("dev"), KeyDeduction("dev2", 1)
	if bytes.HasPrefix(b, a) {
		t.Fatalf("%q has prefix %q", b, a)
	}
	if !bytes.HasPrefix(KeyBucket("dev", 7), PrefixBuckets("dev")) {
		t.Fatal("bucket key outside its prefix")
	}
	if !bytes.HasPrefix(KeyOutbox(7), PrefixOutbox()) || !bytes.HasPrefix(KeyToken("x"), PrefixTokens()) {
		t.Fatal("key outside its prefix")
	}
	if bytes.Compare(KeyOutbox(255), KeyOutbox(256)) >= 0 {
		t.Fatal("outbox keys do not sort by sequence")
	}
}

func TestTrailingUint(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		want    int64
		wantErr bool
	}{
		{"ok", KeyOutbox(42), 42, false},
		{"error/short", []byte("o/abc"), 0, true},
		{"error/huge", append([]byte("o/"), 0xff, 0, 0, 0, 0, 0, 0, 0), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OutboxSeq(tt.key)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("OutboxSeq = %d, %v", got, err)
			}
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
		})
	}
	if h, err := BucketHour(KeyBucket("dev", 99), "dev"); err != nil || h != 99 {
		t.Fatalf("BucketHour = %d, %v", h, err)
	}
}
