package certs

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/ident"
)

func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

func TestGenerateTwiceChangesNothing(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Devices: []string{"pump-1", "gw-1"}}
	first, err := Generate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Written) != 8 {
		t.Fatalf("first run wrote %v, want 8 files", first.Written)
	}
	before := snapshot(t, dir)
	second, err := Generate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Written) != 0 {
		t.Fatalf("second run wrote %v", second.Written)
	}
	after := snapshot(t, dir)
	if len(before) != len(after) {
		t.Fatalf("file set changed: %d → %d", len(before), len(after))
	}
	for name, sum := range before {
		if after[name] != sum {
			t.Fatalf("%s changed on the second run", name)
		}
	}
	for _, name := range []string{CAKey, ServerKey, DeviceKey("pump-1")} {
		st, _ := os.Stat(filepath.Join(dir, name))
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}
}

func TestGenerateRefreshesWhatIsBadOrNew(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	if _, err := Generate(dir, Options{Devices: []string{"a"}, Clock: clk}); err != nil {
		t.Fatal(err)
	}
	// A new device adds only its pair.
	res, err := Generate(dir, Options{Devices: []string{"a", "b"}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(res.Written)
	if len(res.Written) != 2 || res.Written[0] != DeviceCert("b") || res.Written[1] != DeviceKey("b") {
		t.Fatalf("adding a device wrote %v", res.Written)
	}
	// A corrupted server key replaces the server pair only.
	if err := os.WriteFile(filepath.Join(dir, ServerKey), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = Generate(dir, Options{Devices: []string{"a", "b"}, Clock: clk})
	if err != nil || len(res.Written) != 2 {
		t.Fatalf("repair wrote %v, err %v", res.Written, err)
	}
	// Near the end of the leaf lifetime, leaves are renewed.
	clk.Advance(LeafValidity - RenewBefore + time.Hour)
	res, err = Generate(dir, Options{Devices: []string{"a", "b"}, Clock: clk})
	if err != nil || len(res.Written) != 6 {
		t.Fatalf("renewal wrote %v, err %v", res.Written, err)
	}
}

func TestGenerateRefusesBadDeviceID(t *testing.T) {
	if _, err := Generate(t.TempDir(), Options{Devices: []string{"../x"}}); !errors.Is(err, ident.ErrInvalid) {
		t.Fatalf("Generate with a path in the device id = %v", err)
	}
}

// TestMutualTLSHandshake proves the files work together: a TLS server with
// the server pair that requires client certificates from the CA accepts a
// device with its pair.
func TestMutualTLSHandshake(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(dir, Options{Devices: []string{"pump-1"}}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(dir, CACert))
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA does not parse")
	}
	srvPair, err := tls.LoadX509KeyPair(filepath.Join(dir, ServerCert), filepath.Join(dir, ServerKey))
	if err != nil {
		t.Fatal(err)
	}
	devPair, err := tls.LoadX509KeyPair(filepath.Join(dir, DeviceCert("pump-1")), filepath.Join(dir, DeviceKey("pump-1")))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvPair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			got <- err.Error()
			return
		}
		got <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		io.Copy(io.Discard, c)
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{devPair}})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if cn := <-got; cn != "pump-1" {
		t.Fatalf("server saw client %q, want pump-1", cn)
	}
}
