package store

import (
	"bytes"
	"testing"
)

func TestLicenseByCustomerOwner(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
		want string
		ok   bool
	}{
		{"ok", LicenseByCustomerKey("acme", "lic-1"), "acme", true},
		{"error/other table", LicenseByDeviceKey("acme", "lic-1"), "", false},
		{"error/no id", []byte("lc/acme/"), "", false},
		{"error/no customer", []byte("lc//lic-1"), "", false},
		{"error/prefix only", LicenseByCustomerAll(), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := LicenseByCustomerOwner(tc.key)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("LicenseByCustomerOwner(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.ok)
			}
		})
	}
	if !bytes.HasPrefix(LicenseByCustomerPrefix("acme"), LicenseByCustomerAll()) {
		t.Fatal("a customer's prefix is not under the whole index")
	}
}

// FuzzLicenseByCustomerOwner: for any key, a found owner is non-empty,
// holds no separator, and rebuilding the key from it and the rest gives
// the key back; for keys built by LicenseByCustomerKey the owner is found.
func FuzzLicenseByCustomerOwner(f *testing.F) {
	f.Add("acme", "lic-1")
	f.Add("", "lic-1")
	f.Add("acme", "")
	f.Add("a/b", "c")
	f.Fuzz(func(t *testing.T, customer, id string) {
		k := LicenseByCustomerKey(customer, id)
		got, ok := LicenseByCustomerOwner(k)
		if ok {
			if got == "" || bytes.IndexByte([]byte(got), sep) >= 0 {
				t.Fatalf("owner %q of %q", got, k)
			}
			if !bytes.HasPrefix(k, LicenseByCustomerPrefix(got)) || len(k) == len(LicenseByCustomerPrefix(got)) {
				t.Fatalf("owner %q does not rebuild %q", got, k)
			}
		}
		validID := func(s string) bool { return s != "" && bytes.IndexByte([]byte(s), sep) < 0 }
		if validID(customer) && id != "" && (!ok || got != customer) {
			t.Fatalf("LicenseByCustomerOwner(%q) = %q, %v; want %q", k, got, ok, customer)
		}
		if _, ok := LicenseByCustomerOwner([]byte(customer + id)); ok && !bytes.HasPrefix([]byte(customer+id), LicenseByCustomerAll()) {
			t.Fatal("an owner found outside the index")
		}
	})
}
