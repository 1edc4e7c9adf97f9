package ledger

import (
	"testing"
)

// TestDeviceKeyHolders: a registered device's key id leads to that device
// and its key's whole fingerprint; a key id nobody holds to nothing; a
// string that is not a key id (wrong length, not lower-case hex, a prefix
// that would match many keys) to nothing, without a read.
func TestDeviceKeyHolders(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	d := e.device(acme, "acme", "press-1", "sensor-a")
	e.device(acme, "acme", "press-2", "sensor-a")
	got, err := e.lg.DeviceKeyHolders(ctx, d.KeyFingerprint[:16])
	if err != nil || len(got) != 1 || got["press-1"] != d.KeyFingerprint {
		t.Fatalf("holders of press-1's key id = %v, %v; want press-1 → %s", got, err, d.KeyFingerprint)
	}
	other := "0000000000000000"
	if d.KeyFingerprint[:16] == other {
		other = "1111111111111111"
	}
	for _, id := range []string{other, "", d.KeyFingerprint[:15], d.KeyFingerprint[:17], "ABCDEF0123456789", d.KeyFingerprint[:1]} {
		if got, err := e.lg.DeviceKeyHolders(ctx, id); err != nil || len(got) != 0 {
			t.Errorf("holders of %q = %v, %v; want none", id, got, err)
		}
	}
}
