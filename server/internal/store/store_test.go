package store

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

func TestKeyHelpers(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"customer", CustomerKey("acme"), "c/acme"},
		{"child", ChildKey("dist", "acme"), "cc/dist/acme"},
		{"child-prefix", ChildPrefix("dist"), "cc/dist/"},
		{"user", UserKey("u-1"), "u/u-1"},
		{"user-by-customer", UserByCustomerKey("acme", "u-1"), "uc/acme/u-1"},
		{"user-by-customer-prefix", UserByCustomerPrefix("acme"), "uc/acme/"},
		{"api-key", APIKeyKey("ab12"), "ak/ab12"},
		{"device", DeviceKey("dev-1"), "d/dev-1"},
		{"device-by-customer", DeviceByCustomerKey("acme", "dev-1"), "dc/acme/dev-1"},
		{"device-by-customer-prefix", DeviceByCustomerPrefix("acme"), "dc/acme/"},
		{"device-fingerprint", DeviceFingerprintKey("ff"), "df/ff"},
		{"gateway-child", GatewayChildKey("gw", "c1"), "dg/gw/c1"},
		{"gateway-child-prefix", GatewayChildPrefix("gw"), "dg/gw/"},
		{"license", LicenseKey("L"), "l/L"},
		{"serial", SerialKey("TG-1"), "ls/TG-1"},
		{"license-by-customer", LicenseByCustomerKey("acme", "L"), "lc/acme/L"},
		{"license-by-customer-prefix", LicenseByCustomerPrefix("acme"), "lc/acme/"},
		{"license-by-device", LicenseByDeviceKey("dev", "L"), "ld/dev/L"},
		{"license-by-device-prefix", LicenseByDevicePrefix("dev"), "ld/dev/"},
		{"period-end", PeriodEndKey(1700000000, "L"), "le/00000000001700000000/L"},
		{"period-end-prefix", PeriodEndPrefix(), "le/"},
		{"token", TokenKey("L"), "t/L"},
		{"deduction", DeductionKey("dev", 7), "dd/dev/00000000000000000007"},
		{"deduction-by-license", DeductionByLicenseKey("L", "dev", 7), "dl/L/dev/00000000000000000007"},
		{"fork-charge-by-license", ForkChargeByLicenseKey("L", "dev", 7, "ab12"), "dl/L/dev/00000000000000000007/ab12"},
		{"deduction-by-license-prefix", DeductionByLicensePrefix("L"), "dl/L/"},
		{"deduction-prefix", DeductionPrefix("dev"), "dd/dev/"},
		{"sync-state", SyncStateKey("dev"), "ys/dev"},
		{"sync-record", SyncRecordKey("dev", 7), "yr/dev/00000000000000000007"},
		{"fork", ForkKey("dev", 7, "ab12"), "yf/dev/00000000000000000007/ab12"},
		{"fork-prefix", ForkPrefix("dev"), "yf/dev/"},
		{"activation-seq", ActivationSeqKey("dev"), "ka/dev"},
		{"usage-receipt", UsageReceiptKey("dev", "n0nce"), "ur/dev/n0nce"},
		{"hourly-count", HourlyCountKey("dev", 3600), "hc/dev/00000000000000003600"},
		{"hourly-count-prefix", HourlyCountPrefix("dev"), "hc/dev/"},
		{"sale", SaleKey(12), "s/00000000000000000012"},
		{"sale-prefix", SalePrefix(), "s/"},
		{"sale-by-customer", SaleByCustomerKey("acme", 12), "sc/acme/00000000000000000012"},
		{"sale-by-customer-prefix", SaleByCustomerPrefix("acme"), "sc/acme/"},
		{"audit", AuditKey(3), "a/00000000000000000003"},
		{"audit-prefix", AuditPrefix(), "a/"},
		{"audit-by-customer", AuditByCustomerKey("acme", 3), "ac/acme/00000000000000000003"},
		{"audit-by-customer-prefix", AuditByCustomerPrefix("acme"), "ac/acme/"},
		{"revoked", RevokedKey("L"), "rv/L"},
		{"revoked-prefix", RevokedPrefix(), "rv/"},
		{"suspended", SuspendedKey("L"), "sp/L"},
		{"suspended-prefix", SuspendedPrefix(), "sp/"},
		{"superseded", SupersededKey("L"), "ss/L"},
		{"superseded-prefix", SupersededPrefix(), "ss/"},
		{"blacklist", BlacklistKey("dev"), "bl/dev"},
		{"blacklist-prefix", BlacklistPrefix(), "bl/"},
		{"revocation-list", RevocationListKey(), "rl"},
		{"counter", CounterKey("audit"), "n/audit"},
		{"meta", MetaKey("root"), "m/root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestKeyPrefixesDoNotMatchLongerIDs(t *testing.T) {
	tests := []struct {
		name   string
		prefix []byte
		other  []byte
	}{
		{"child", ChildPrefix("a"), ChildKey("ab", "x")},
		{"license-by-customer", LicenseByCustomerPrefix("a"), LicenseByCustomerKey("ab", "x")},
		{"license-by-device", LicenseByDevicePrefix("a"), LicenseByDeviceKey("ab", "x")},
		{"device-by-customer", DeviceByCustomerPrefix("a"), DeviceByCustomerKey("a.b", "x")},
		{"deduction-by-license", DeductionByLicensePrefix("a"), DeductionByLicenseKey("a-b", "d", 1)},
		{"sale-vs-serial", SalePrefix(), SerialKey("x")},
		{"deduction", DeductionPrefix("a"), DeductionKey("ab", 1)},
		{"fork", ForkPrefix("a"), ForkKey("a-b", 1, "x")},
		{"hourly-count", HourlyCountPrefix("a"), HourlyCountKey("ab", 3600)},
		{"audit-by-customer", AuditByCustomerPrefix("a"), AuditByCustomerKey("a.b", 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if bytes.HasPrefix(tc.other, tc.prefix) {
				t.Fatalf("%q matches prefix %q", tc.other, tc.prefix)
			}
		})
	}
}

func TestNumberedKeysSortNumerically(t *testing.T) {
	var keys [][]byte
	for _, n := range []int64{10, 9, 100, 1, 99999999999} {
		keys = append(keys, AuditKey(n))
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	want := []int64{1, 9, 10, 100, 99999999999}
	for i, n := range want {
		if !bytes.Equal(keys[i], AuditKey(n)) {
			t.Fatalf("position %d: %q, want %q", i, keys[i], AuditKey(n))
		}
	}
	if got := LastPart(LicenseByCustomerKey("acme", "L1")); got != "L1" {
		t.Fatalf("LastPart = %q", got)
	}
}

func openTest(t *testing.T, clk clock.Clock) *DB {
	t.Helper()
	db, err := Open(Options{Dir: t.TempDir(), Profile: ProfileSmall, Clock: clk, GCInterval: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUpdateAppliesAllOrNothing(t *testing.T) {
	db := openTest(t, nil)
	boom := errors.New("boom")
	err := db.Update(func(x *Txn) error {
		for i := int64(1); i <= 100; i++ {
			if err := x.Put(SaleKey(i), []byte("x")); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	n := 0
	if err := db.View(func(x *Txn) error {
		return x.Scan(SalePrefix(), nil, false, func(k, v []byte) (bool, error) { n++; return true, nil })
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d records of a failed transaction were applied", n)
	}
}

func TestScanResumesAfterKeyAndReverse(t *testing.T) {
	db := openTest(t, nil)
	if err := db.Update(func(x *Txn) error {
		for i := int64(1); i <= 5; i++ {
			if err := x.PutJSON(AuditKey(i), i); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var fwd, rev []string
	db.View(func(x *Txn) error {
		x.Scan(AuditPrefix(), AuditKey(2), true, func(k, v []byte) (bool, error) {
			fwd = append(fwd, string(v))
			return true, nil
		})
		return x.Reverse(AuditPrefix(), AuditKey(4), func(k, v []byte) (bool, error) {
			rev = append(rev, string(v))
			return len(rev) < 2, nil
		})
	})
	if got := len(fwd); got != 3 || fwd[0] != "3" {
		t.Fatalf("forward after 2 = %v", fwd)
	}
	if len(rev) != 2 || rev[0] != "3" || rev[1] != "2" {
		t.Fatalf("reverse before 4 = %v", rev)
	}
}

func TestNextSeqCountsFromOne(t *testing.T) {
	db := openTest(t, nil)
	for want := int64(1); want <= 3; want++ {
		var got int64
		if err := db.Update(func(x *Txn) (err error) { got, err = x.NextSeq("audit"); return }); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("NextSeq = %d, want %d", got, want)
		}
	}
	err := db.View(func(x *Txn) error { _, err := x.Get(CustomerKey("nope")); return err })
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing = %v, want ErrNotFound", err)
	}
}

func TestGCRunsOnTickerAndStopsOnClose(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ran := make(chan struct{}, 10)
	db, err := Open(Options{Dir: t.TempDir(), Profile: ProfileSmall, Clock: clk, GCInterval: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), onGC: func() { ran <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("GC did not run on the tick")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-db.eng.(*badgerEngine).done:
	default:
		t.Fatal("GC loop still running after Close")
	}
	clk.Advance(time.Minute) // must not panic or block on a closed store
	if err := db.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}
