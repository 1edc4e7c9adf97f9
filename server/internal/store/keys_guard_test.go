package store

import (
	"bytes"
	"testing"
)

func TestGuardKeys(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"window", GuessWindowKey(493_210), "gw/00000000000000493210"},
		{"window-prefix", GuessWindowPrefix(), "gw/"},
		{"source-v4", GuessSourceKey(493_210, "192.0.2.7"), "gs/00000000000000493210/192.0.2.7"},
		{"source-v6-prefix", GuessSourceKey(493_210, "2001:db8::/64"), "gs/00000000000000493210/2001:db8::%2F64"},
		{"source-prefix", GuessSourcePrefix(), "gs/"},
		{"key-id", DeviceKeyIDPrefix("0123456789abcdef"), "df/0123456789abcdef"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Fatalf("%s, want %s", tc.got, tc.want)
			}
		})
	}
	if bytes.Equal(GuessSourceKey(1, "a/b"), GuessSourceKey(1, "a%2Fb")) {
		t.Fatal("two sources share a key")
	}
	if bytes.Compare(GuessSourceKey(7, "zz"), GuessSourceKey(8, "aa")) >= 0 {
		t.Fatal("source keys do not sort by window first")
	}
	fp := "0123456789abcdef" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"[:48]
	if !bytes.HasPrefix(DeviceFingerprintKey(fp), DeviceKeyIDPrefix(fp[:16])) {
		t.Fatal("a key id prefix does not match its fingerprint key")
	}
	for k, want := range map[string]int64{
		"gw/00000000000000493210":           493_210,
		"gs/00000000000000493210/192.0.2.7": 493_210,
	} {
		if w, ok := GuessKeyWindow([]byte(k)); !ok || w != want {
			t.Fatalf("window of %s: %d %v", k, w, ok)
		}
	}
	for _, bad := range []string{"gw/", "gw/123", "gs/00000000000000493210", "gs/00000000000000493210/", "gs/0000000000000049321x/a", "gx/00000000000000493210", "gw/00000000000000493210x"} {
		if _, ok := GuessKeyWindow([]byte(bad)); ok {
			t.Fatalf("window of %q parsed", bad)
		}
	}
}
