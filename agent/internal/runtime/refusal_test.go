package runtime

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestRefusalNamesTheAgentsOwnVerdict: what the publisher logs when the
// broker refuses the device comes from the agent's state on a real data
// directory: no license, a usable one (nothing), a suspended one, and a
// blacklisted device.
func TestRefusalNamesTheAgentsOwnVerdict(t *testing.T) {
	cfg := config.Default()
	cfg.Data = filepath.Join(t.TempDir(), "data")
	id, err := Init(context.Background(), cfg, InitRequest{DeviceID: devID, Model: "TG-100", Trust: testkit.TrustBundle(t)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, Options{Clock: clock.NewFake(testkit.Epoch), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pub, _ := token.ParsePublicKey(id.PublicKey)
	lic, text := testkit.License(t, devID, pub, nil)
	steps := []struct {
		name string
		docs []string
		want string
	}{
		{"no-license", nil, "no_license"},
		{"usable", []string{text}, ""},
		{"suspended", []string{mustRevocation(t, 1, nil, []string{lic.LicenseID}, nil)}, "suspended"},
		{"blacklisted", []string{mustRevocation(t, 2, nil, nil, []string{devID})}, "blacklisted (by the license server)"},
	}
	for _, s := range steps {
		if len(s.docs) > 0 {
			if _, err := a.Activate(s.docs); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		if got := a.refusal(); got != s.want {
			t.Fatalf("%s: refusal %q, want %q", s.name, got, s.want)
		}
	}
}

func mustRevocation(t *testing.T, seq int64, revoked, suspended, blacklisted []string) string {
	t.Helper()
	_, text := testkit.Revocation(t, seq, revoked, suspended, blacklisted)
	return text
}
