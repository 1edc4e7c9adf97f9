package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClusterSecretFile: the route secret is read from a file only its
// owner may read, and must be long enough; the server name defaults to the
// host name and the route port.
func TestClusterSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := DefaultConfig()
	c.DataDir, c.MQTTAddr, c.ClusterAddr = dir, "127.0.0.1:0", "127.0.0.1:6222"
	c.Routes = "nats://127.0.0.1:6223,nats://127.0.0.1:6224"
	for _, tc := range []struct {
		name, body string
		mode       os.FileMode
		want       string
	}{
		{"error/readable-by-others", "0123456789abcdef0123", 0o644, "chmod 600"},
		{"error/too-short", "short\n", 0o600, "route secret of 5 bytes"},
		{"error/white-space", "0123456789 abcdef0123\n", 0o600, "white space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.ClusterSecretFile = write(tc.name[len("error/"):], tc.body, tc.mode)
			if _, err := c.clusterConfig(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	c.ClusterSecretFile = write("good", "0123456789abcdef0123\n", 0o600)
	cc, err := c.clusterConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.Secret != "0123456789abcdef0123" || !strings.HasSuffix(cc.ServerName, "-6222") || len(cc.Routes) != 2 || cc.Port != 6222 {
		t.Fatalf("cluster config %+v", cc)
	}
}
