package store

import (
	"bytes"
	"testing"
)

func TestEnrollmentKeyHelpers(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"enrollment", EnrollmentKey("e-1"), "en/e-1"},
		{"enrollment-code", EnrollmentCodeKey("ab12"), "eh/ab12"},
		{"enrollment-by-customer", EnrollmentByCustomerKey("acme", "e-1"), "ec/acme/e-1"},
		{"enrollment-by-customer-prefix", EnrollmentByCustomerPrefix("acme"), "ec/acme/"},
		{"enrolled-device", EnrolledDeviceKey("e-1", "dev-1"), "ed/e-1/dev-1"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if bytes.HasPrefix(EnrollmentByCustomerKey("acme2", "e-1"), EnrollmentByCustomerPrefix("acme")) {
		t.Error("the prefix of customer acme matches customer acme2")
	}
}
