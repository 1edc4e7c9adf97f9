package store

import (
	"bytes"
	"testing"
)

func TestObservedKeys(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"count", ObservedCountKey("dev-1", 7200), "oc/dev-1/00000000000000007200"},
		{"count-prefix", ObservedCountPrefix("dev-1"), "oc/dev-1/"},
		{"by-hour", ObservedByHourKey(7200, "dev-1"), "och/00000000000000007200/dev-1"},
		{"by-hour-prefix", ObservedByHourPrefix(), "och/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Fatalf("%s, want %s", tc.got, tc.want)
			}
		})
	}
	if bytes.HasPrefix(ObservedCountKey("dev-10", 0), ObservedCountPrefix("dev-1")) {
		t.Fatal("the prefix of dev-1 matches dev-10")
	}
	if bytes.Compare(ObservedByHourKey(3600, "z"), ObservedByHourKey(7200, "a")) >= 0 {
		t.Fatal("by-hour keys do not sort by hour first")
	}
	h, d, ok := ObservedHourDevice(ObservedByHourKey(7200, "dev-1"))
	if !ok || h != 7200 || d != "dev-1" {
		t.Fatalf("split: %d %q %v", h, d, ok)
	}
	for _, bad := range []string{"och/", "och/123/dev", "och/0000000000000000720x/dev", "oc/00000000000000007200/dev", "och/00000000000000007200/"} {
		if _, _, ok := ObservedHourDevice([]byte(bad)); ok {
			t.Fatalf("split %q succeeded", bad)
		}
	}
}
