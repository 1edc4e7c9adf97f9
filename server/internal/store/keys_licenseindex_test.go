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
