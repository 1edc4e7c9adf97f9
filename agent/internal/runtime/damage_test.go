package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
)

// TestOpenRefusesDamagedState: one flipped byte in the table that holds
// an activated agent's licenses. The agent started with its licenses gone
// and a warning at most; it must refuse to open, with corrupt_state naming
// the file.
func TestOpenRefusesDamagedState(t *testing.T) {
	cfg := config.Default()
	cfg.Data = filepath.Join(t.TempDir(), "data")
	id, err := Init(context.Background(), cfg, InitRequest{DeviceID: devID, Model: "TG-100", Trust: testkit.TrustBundle(t)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Activate([]string{license(t, id.PublicKey, nil)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // flushes the memtable to an SST
		t.Fatal(err)
	}
	ssts, _ := filepath.Glob(filepath.Join(cfg.Data, stateDir, "*.sst"))
	if len(ssts) == 0 {
		t.Fatal("no SST after close")
	}
	b, err := os.ReadFile(ssts[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/4] ^= 0x01 // inside the data blocks (the index is at the end)
	if err := os.WriteFile(ssts[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err = Open(context.Background(), cfg, Options{Logger: discardLogger()})
	if err == nil {
		st := a.Status()
		a.Close()
		t.Fatalf("opened a damaged state database (%d licenses)", len(st.Licenses))
	}
	if ErrorCode(err) != "corrupt_state" || !strings.Contains(err.Error(), filepath.Base(ssts[0])) {
		t.Fatalf("open: %v (code %s); want corrupt_state naming %s", err, ErrorCode(err), filepath.Base(ssts[0]))
	}
}
