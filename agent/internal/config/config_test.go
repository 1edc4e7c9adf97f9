package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/certs"
	"github.com/tollgate-iot/tollgate/shared/token"
)

func TestValidate(t *testing.T) {
	pub := token.EncodePublicKey(make([]byte, 32))
	good := token.EncodePublicKey([]byte{215, 90, 152, 1, 130, 177, 10, 183, 213, 75, 254, 211, 201, 100, 7, 58, 14, 225, 114, 243, 218, 166, 35, 37, 175, 2, 26, 104, 247, 7, 81, 26})
	tests := []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"ok", func(c *Config) {}, true},
		{"ok/unix", func(c *Config) { c.Ingest = "unix:/tmp/x.sock" }, true},
		{"ok/ssl", func(c *Config) { c.Broker = "ssl://127.0.0.1:8883" }, true},
		{"ok/child", func(c *Config) { c.Children = []Child{{ID: "c1", Model: "TG-1", PublicKey: good}} }, true},
		{"error/no-data", func(c *Config) { c.Data = "" }, false},
		{"error/ingest-not-loopback", func(c *Config) { c.Ingest = "0.0.0.0:80" }, false},
		{"error/broker-scheme", func(c *Config) { c.Broker = "http://x:1" }, false},
		{"ok/bridge", func(c *Config) { c.Bridge = "tcp://127.0.0.1:1883" }, true},
		{"ok/brokers", func(c *Config) { c.Broker = "ssl://a:8883, ssl://b:8883,tcp://c:1883" }, true},
		{"ok/servers", func(c *Config) { c.Server = "https://a:8443,https://b:8443/" }, true},
		{"error/broker-list-bad-item", func(c *Config) { c.Broker = "ssl://a:8883,http://b:1" }, false},
		{"error/broker-twice", func(c *Config) { c.Broker = "ssl://a:8883,ssl://a:8883" }, false},
		{"error/too-many-brokers", func(c *Config) {
			c.Broker = "tcp://a:1,tcp://b:1,tcp://c:1,tcp://d:1,tcp://e:1,tcp://f:1,tcp://g:1,tcp://h:1,tcp://i:1"
		}, false},
		{"error/server-scheme", func(c *Config) { c.Server = "https://a:8443,ftp://b" }, false},
		{"error/server-credentials", func(c *Config) { c.Server = "https://u:p@a:8443" }, false},
		{"error/server-twice", func(c *Config) { c.Server = "https://a:8443,https://a:8443" }, false},
		{"error/bridge-ssl", func(c *Config) { c.Bridge = "ssl://x:1" }, false},
		{"error/queue", func(c *Config) { c.QueueMax = 0 }, false},
		{"error/tolerance", func(c *Config) { c.ClockTolerance = Duration(time.Second) }, false},
		{"error/child-weak-key", func(c *Config) { c.Children = []Child{{ID: "c1", Model: "TG-1", PublicKey: pub}} }, false},
		{"error/child-dup", func(c *Config) {
			c.Children = []Child{{ID: "c1", Model: "TG-1", PublicKey: good}, {ID: "c1", Model: "TG-1", PublicKey: good}}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Data = "/tmp/x"
			tt.mod(&c)
			err := c.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v is not ErrInvalid", err)
			}
		})
	}
}

func TestLoadFileStrict(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	os.WriteFile(p, []byte(`{"queue_max": 5, "clock_tolerance": "2h"}`), 0o600)
	c := Default()
	if err := c.LoadFile(p); err != nil || c.QueueMax != 5 || time.Duration(c.ClockTolerance) != 2*time.Hour {
		t.Fatalf("LoadFile = %v, %+v", err, c)
	}
	os.WriteFile(p, []byte(`{"queue_maxx": 5}`), 0o600)
	if err := c.LoadFile(p); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown field: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"queue_max": 5, "clock_tolerance": "2h", "children": [{"id":"c","model":"m","public_key":"x"}]}`))
	f.Add([]byte(`{"broker":"ssl://h:1"} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Default()
		if err := c.Parse(b); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		c.Data = "/d"
		_ = c.Validate() // must not panic on anything that parsed
	})
}

// TestCertFileNames: the agent looks for the file names the development
// certificate generator writes (it does not import the generator).
func TestCertFileNames(t *testing.T) {
	got := []string{CACertFile, DeviceCertFile("pump-1"), DeviceKeyFile("pump-1")}
	want := []string{certs.CACert, certs.DeviceCert("pump-1"), certs.DeviceKey("pump-1")}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("agent looks for %q, certs writes %q", got[i], want[i])
		}
	}
}

// FuzzUpstreamLists: any broker or server list validates or is refused
// with ErrInvalid, and one that validates splits into at most
// MaxUpstreams distinct, non-empty addresses.
func FuzzUpstreamLists(f *testing.F) {
	for _, seed := range []string{"ssl://a:8883,ssl://b:8883", "https://a:8443, https://b", ",,", "tcp://a:1,tcp://a:1", "https://u:p@x", " "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []Config{{Broker: s}, {Server: s}} {
			d := Default()
			d.Data, d.Broker, d.Server = "/tmp/x", c.Broker, c.Server
			err := d.Validate()
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("%q: error %v is not ErrInvalid", s, err)
				}
				continue
			}
			items := append(d.Brokers(), d.Servers()...)
			seen := map[string]bool{}
			for _, it := range items {
				if it == "" || seen[it] {
					t.Fatalf("%q validated with item %q empty or twice", s, it)
				}
				seen[it] = true
			}
			if len(d.Brokers()) > MaxUpstreams || len(d.Servers()) > MaxUpstreams {
				t.Fatalf("%q validated with too many items", s)
			}
		}
	})
}
