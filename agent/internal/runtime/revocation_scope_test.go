package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestAgentRefusesListForOtherDevice: the agent holds its own list, which
// revokes its license. A validly signed, newer list that was signed for
// another device (it does not name this device's revocation) is refused
// on every path — activation, a sync answer, an activation key — and the
// agent keeps its own list and its license stays revoked.
func TestAgentRefusesListForOtherDevice(t *testing.T) {
	var tokens []string
	var rev string
	serverTime := clock.Real{}.Now().Add(time.Hour).Unix()
	hs := answering(t, func() int64 { return serverTime }, func() ([]string, string) { return tokens, rev })
	a, pubText := openWithServer(t, hs.URL)
	var licID string
	own := license(t, pubText, func(l *token.License) { l.Version = 2; licID = l.LicenseID })
	_, ownList := testkit.Revocation(t, 3, []string{licID}, nil, nil)
	if _, err := a.Activate([]string{own, ownList}); err != nil {
		t.Fatal(err)
	}
	holdsOwn := func(when string) {
		t.Helper()
		held := a.gate.Revocation()
		st := a.Status()
		if held == nil || held.DeviceID != devID || held.Seq != 3 || len(st.Licenses) != 1 || st.Licenses[0].Status != "revoked" {
			t.Fatalf("%s: held list %+v, licenses %+v; want its own seq 3 revoking the license", when, held, st.Licenses)
		}
		text, err := a.st.Revocation()
		if err != nil || text != ownList {
			t.Fatalf("%s: stored list changed (%v)", when, err)
		}
	}
	holdsOwn("after activation")
	_, otherList := testkit.RevocationFor(t, "pump-2", 9, nil, nil, nil)

	_, err := a.Activate([]string{otherList})
	if !errors.Is(err, ErrWrongDevice) || !errors.Is(err, token.ErrWrongScope) {
		t.Fatalf("Activate(list of pump-2) = %v, want %v and %v", err, ErrWrongDevice, token.ErrWrongScope)
	}
	holdsOwn("after activate")

	tokens, rev = []string{own}, otherList
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatalf("sync with another device's list: %v (the list is skipped, the sync succeeds)", err)
	}
	holdsOwn("after sync")

	pub, err := token.ParsePublicKey(pubText)
	if err != nil {
		t.Fatal(err)
	}
	key := keyText(t, pub, 1, 2, 9, func(k *airgap.ActivationKey) { k.RevocationList = otherList; k.IssuedAt = serverTime })
	if _, err := a.Activate([]string{key}); !errors.Is(err, token.ErrWrongScope) {
		t.Fatalf("activation key carrying pump-2's list = %v, want %v", err, token.ErrWrongScope)
	}
	holdsOwn("after activation key")
}
