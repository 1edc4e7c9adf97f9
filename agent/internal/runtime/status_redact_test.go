package runtime

import "testing"

// TestStatusRedactsUpstreamPasswords: an address with a password in it is
// shown without the password (status is read through the local API).
func TestStatusRedactsUpstreamPasswords(t *testing.T) {
	for in, want := range map[string]string{
		"https://ops:s3cret@a.example:8443": "https://ops:xxxxx@a.example:8443",
		"tcp://b.example:1883":              "tcp://b.example:1883",
		"ssl://user@c.example:8883":         "ssl://user@c.example:8883",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
