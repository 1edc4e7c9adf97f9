package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

const (
	licA  = "0a000000-0000-4000-8000-000000000001"
	licB  = "0b000000-0000-4000-8000-000000000002"
	t0    = int64(1796083200) // 2026-12-01T00:00:00Z
	h0    = t0 / hourSeconds
	nonce = "AAAAAAAAAAAAAAAAAAAAAA"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	key := sha256.Sum256([]byte("syncer test state"))
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), Key: key[:]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// putDeductions writes n day records of dev from seq first on, as the gate
// would (one day each, ascending).
func putDeductions(t *testing.T, st *store.Store, dev string, first int64, n int) {
	t.Helper()
	wb := st.DB().NewWriteBatch()
	defer wb.Cancel()
	for i := range int64(n) {
		seq := first + i
		at := t0 + (seq-1)*86400
		d := store.Deduction{Seq: seq, DeviceID: dev, LicenseID: licA, At: at, PaidUntil: at + 86400,
			DaysBefore: 100000 - seq + 1, DaysAfter: 100000 - seq}
		b, _ := jsonOf(d)
		if err := wb.Set(store.KeyDeduction(dev, seq), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().Update(func(txn *badger.Txn) error {
		return store.SetInt(txn, store.KeyDeductionSeq(dev), first+int64(n)-1)
	}); err != nil {
		t.Fatal(err)
	}
}

func putBucket(t *testing.T, st *store.Store, dev string, hour, accepted, overage int64) {
	t.Helper()
	if err := st.PutJSON(store.KeyBucket(dev, hour), store.Bucket{Accepted: accepted, Overage: overage}); err != nil {
		t.Fatal(err)
	}
}

// putBuckets writes hours buckets from h0 on for each device in one batch.
func putBuckets(t *testing.T, st *store.Store, devs []string, hours int64) {
	t.Helper()
	wb := st.DB().NewWriteBatch()
	defer wb.Cancel()
	for _, dev := range devs {
		for h := range hours {
			b, _ := jsonOf(store.Bucket{Accepted: h + 1})
			if err := wb.Set(store.KeyBucket(dev, h0+h), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
}

func build(t *testing.T, st *store.Store, devices ...string) (*syncproto.Report, Page) {
	t.Helper()
	r, p, err := Build(st, BuildInput{DeviceID: "gw-1", Devices: devices, Nonce: nonce, SentAt: t0,
		Held: Held{Tokens: []syncproto.TokenVersion{{LicenseID: licB, Version: 2}, {LicenseID: licA, Version: 5}}, RevocationSeq: 7}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("built report does not validate: %v", err)
	}
	return r, p
}

func ack(t *testing.T, st *store.Store, acked int64, p Page) {
	t.Helper()
	if err := st.SaveSync(store.SyncProgress{AckedSeq: acked, Hours: p.Hours, At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveChildAcked(p.ChildLast); err != nil {
		t.Fatal(err)
	}
}

func TestBuildOnlyUnackedAscending(t *testing.T) {
	st := openStore(t)
	putDeductions(t, st, "gw-1", 1, 5)
	putDeductions(t, st, "child-1", 1, 3) // a child's own days, after the gateway's
	putBucket(t, st, "gw-1", h0, 10, 2)
	putBucket(t, st, "gw-1", h0+1, 4, 0)
	putBucket(t, st, "child-1", h0, 7, 0)

	r, p := build(t, st, "gw-1", "child-1", "gw-1")
	if len(r.Deductions) != 8 || r.Deductions[0].Seq != 1 || r.Deductions[4].Seq != 5 || p.LastSeq != 5 ||
		r.Deductions[5].DeviceID != "child-1" || r.Deductions[7].Seq != 3 || p.ChildLast["child-1"] != 3 {
		t.Fatalf("deductions %+v, page %+v", r.Deductions, p)
	}
	if r.Tokens[0].LicenseID != licA || r.RevocationSeq != 7 {
		t.Fatalf("held %+v seq %d", r.Tokens, r.RevocationSeq)
	}
	want := []syncproto.HourlyCount{{DeviceID: "child-1", Hour: t0, Accepted: 7},
		{DeviceID: "gw-1", Hour: t0, Accepted: 10, Overage: 2}, {DeviceID: "gw-1", Hour: t0 + 3600, Accepted: 4}}
	if len(r.Counts) != len(want) {
		t.Fatalf("counts %+v", r.Counts)
	}
	for i := range want {
		if !r.Counts[i].Equal(&want[i]) {
			t.Fatalf("counts[%d] = %+v, want %+v", i, r.Counts[i], want[i])
		}
	}
	if p.MoreDeductions || p.MoreCounts || p.Hours["gw-1"] != h0+1 || p.Hours["child-1"] != h0 {
		t.Fatalf("page %+v", p)
	}

	// The server acknowledged up to 3: 4 and 5 are sent again, and the
	// counts from each device's last acknowledged hour on.
	ack(t, st, 3, p)
	putBucket(t, st, "gw-1", h0+1, 9, 0) // the hour grew
	putBucket(t, st, "gw-1", h0+2, 1, 0)
	putDeductions(t, st, "gw-1", 6, 1)
	r, p = build(t, st, "gw-1", "child-1")
	if len(r.Deductions) != 3 || r.Deductions[0].Seq != 4 || r.Deductions[2].Seq != 6 || p.FromSeq != 3 {
		t.Fatalf("after ack 3: deductions %+v", r.Deductions)
	}
	if len(r.Counts) != 3 || r.Counts[0].DeviceID != "child-1" || r.Counts[1].Hour != t0+3600 ||
		r.Counts[1].Accepted != 9 || r.Counts[2].Hour != t0+7200 {
		t.Fatalf("after ack: counts %+v", r.Counts)
	}

	// Everything acknowledged: only the last hour of each device again.
	ack(t, st, 6, p)
	r, _ = build(t, st, "gw-1", "child-1")
	if len(r.Deductions) != 0 || len(r.Counts) != 2 {
		t.Fatalf("all acked: %d deductions, counts %+v", len(r.Deductions), r.Counts)
	}
}

func TestBuildPages(t *testing.T) {
	st := openStore(t)
	putDeductions(t, st, "gw-1", 1, limits.MaxSyncDeductions+7)
	// 60 devices × 168 hours: more counts than one report carries.
	devs := make([]string, 60)
	for i := range devs {
		devs[i] = "child-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
	}
	putBuckets(t, st, devs, 168)
	r, p := build(t, st, devs...)
	if len(r.Deductions) != limits.MaxSyncDeductions || !p.MoreDeductions || p.LastSeq != int64(limits.MaxSyncDeductions) {
		t.Fatalf("page 1: %d deductions, page %+v", len(r.Deductions), p.LastSeq)
	}
	if len(r.Counts) != limits.MaxSyncCounts || !p.MoreCounts {
		t.Fatalf("page 1: %d counts", len(r.Counts))
	}
	ack(t, st, p.LastSeq, p)
	r, p = build(t, st, devs...)
	if len(r.Deductions) != 7 || r.Deductions[0].Seq != int64(limits.MaxSyncDeductions)+1 || p.MoreDeductions {
		t.Fatalf("page 2: %d deductions from %d", len(r.Deductions), r.Deductions[0].Seq)
	}
	// Page 2 starts at the first device not fully sent: its last sent hour
	// again, then the rest; the 50 full devices send their last hour only.
	full := limits.MaxSyncCounts / 168
	if want := full + (60-full)*168; len(r.Counts) != want || p.MoreCounts {
		t.Fatalf("page 2: %d counts, want %d (more %v)", len(r.Counts), want, p.MoreCounts)
	}
}

func jsonOf(v any) ([]byte, error) { return json.Marshal(v) }
