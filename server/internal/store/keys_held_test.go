package store

import (
	"bytes"
	"testing"
)

func TestHeldTokenKeys(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"held", HeldTokenKey("gw-1", "L"), "th/gw-1/L"},
		{"held-prefix", HeldTokenPrefix("gw-1"), "th/gw-1/"},
		{"held-all-prefix", HeldTokenAllPrefix(), "th/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Fatalf("%s, want %s", tc.got, tc.want)
			}
		})
	}
	if bytes.HasPrefix(HeldTokenKey("gw-10", "L"), HeldTokenPrefix("gw-1")) {
		t.Fatal("the prefix of gw-1 matches gw-10")
	}
}
