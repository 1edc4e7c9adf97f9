package airgap

import (
	"testing"
)

// TestEveryFlippedBitOfEachFileIsRefused: a bit flipped anywhere in a request, an
// activation key or a usage receipt — frame, payload, key id, signature,
// line ending — makes the file refused by its parser.
func TestEveryFlippedBitOfEachFileIsRefused(t *testing.T) {
	keyFile, trust, _ := realKey(t)
	rcpt, devTrust := receipt(t)
	files := []struct {
		name  string
		data  []byte
		parse func([]byte) error
	}{
		{"request", mustRequest(t), func(b []byte) error { _, err := ParseActivationRequest(b); return err }},
		{"activation-key", keyFile, func(b []byte) error { _, err := OpenActivationKey(trust, b); return err }},
		{"usage-receipt", rcpt, func(b []byte) error { _, err := OpenUsageReceipt(devTrust, b); return err }},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			if err := f.parse(f.data); err != nil {
				t.Fatalf("the good file: %v", err)
			}
			for i := range f.data {
				for _, bit := range []byte{0x01, 0x20, 0x80} {
					b := append([]byte(nil), f.data...)
					b[i] ^= bit
					if err := f.parse(b); err == nil {
						t.Fatalf("byte %d ^ %#x (%q → %q) accepted", i, bit, f.data[i], b[i])
					}
				}
			}
		})
	}
}
