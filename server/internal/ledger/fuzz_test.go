package ledger

import (
	"testing"
	"time"
)

// FuzzSkeleton feeds arbitrary index values to the summary decoder: it
// must never panic, and what it accepts must round-trip.
func FuzzSkeleton(f *testing.F) {
	l := License{Type: "standard", Billing: "days", AvailableDays: 7, DeviceID: "d", ActivatedAt: time.Unix(5, 0),
		PaidUntil: time.Unix(1_800_000_000, 0), Renew: true}
	f.Add(l.summary())
	f.Add([]byte{})
	f.Add([]byte{summaryVersion, 0xff, 0x80})
	f.Add([]byte{summaryVersion, 0xff, 0x01, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		sk, ok := skeleton(b)
		if !ok {
			return
		}
		again, ok := skeleton(sk.summary())
		if !ok || again.Status(time.Unix(1_700_000_000, 0)) != sk.Status(time.Unix(1_700_000_000, 0)) {
			t.Fatalf("summary %x does not round-trip", b)
		}
	})
}
