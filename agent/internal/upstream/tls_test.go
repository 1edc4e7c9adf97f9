package upstream

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate-iot/tollgate/certs"
)

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.Generate(dir, certs.Options{Devices: []string{"pump-1"}}); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, certs.CACert), []byte("not a certificate"), 0o644)
	tests := []struct {
		name     string
		dir      string
		device   string
		wantErr  bool
		wantMTLS bool
		wantSNI  string
	}{
		{"ok/mtls", dir, "pump-1", false, true, "localhost"},
		{"ok/tls-only", dir, "pump-2", false, false, "localhost"},
		{"error/no-ca", empty, "pump-1", true, false, ""},
		{"error/bad-ca", bad, "pump-1", true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := TLSConfig(tt.dir, tt.device, "ssl://localhost:8883")
			if tt.wantErr {
				if !errors.Is(err, ErrTLS) {
					t.Fatalf("TLSConfig = %v, want ErrTLS", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (len(tc.Certificates) == 1) != tt.wantMTLS || tc.ServerName != tt.wantSNI || tc.RootCAs == nil {
				t.Fatalf("config: certs=%d sni=%q", len(tc.Certificates), tc.ServerName)
			}
		})
	}
}
