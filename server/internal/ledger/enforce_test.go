package ledger

import (
	"slices"
	"sync"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/token"
)

// recorder is an Enforcer that keeps what it was told: changes to
// devices' standing in got, token pushes alone (push_test.go) in pushed.
type recorder struct {
	mu     sync.Mutex
	got    []Enforcement
	pushed []DeviceRef
}

func (r *recorder) Enforce(e Enforcement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pushed = append(r.pushed, e.Tokens...)
	if len(e.Notify) > 0 {
		r.got = append(r.got, e)
	}
}

func (r *recorder) take() []Enforcement {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

func ids(refs []DeviceRef) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.CustomerID+"/"+r.DeviceID)
	}
	slices.Sort(out)
	return out
}

// TestEnforcerLearnsWhomToCutOffAndTell: revocation, suspension and
// blacklisting cut devices off (a gateway with a blacklisted child too);
// resume, clear and a lost license only send the new signed list; changes
// that touch no device's standing tell nothing.
func TestEnforcerLearnsWhomToCutOffAndTell(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	e.device(acme, "acme", "gw-1", "sensor-gw")
	e.mustChild(acme, "acme", "c-1", "gw-1")
	rec := &recorder{}
	e.lg.SetEnforcer(rec)
	l := e.create(dist, std("acme"))
	e.bind(acme, l.ID, "dev-1")
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("create and bind told %+v", got)
	}
	tests := []struct {
		name             string
		do               func() error
		disconnect, tell []string
	}{
		{"suspend", func() error { _, err := e.lg.Suspend(ctx, dist, l.ID); return err }, []string{"acme/dev-1"}, []string{"acme/dev-1"}},
		{"resume", func() error { _, err := e.lg.Resume(ctx, dist, l.ID); return err }, []string{}, []string{"acme/dev-1"}},
		{"blacklist-child", func() error { _, err := e.lg.SetBlacklist(ctx, acme, "c-1", true, "stolen"); return err },
			[]string{"acme/c-1", "acme/gw-1"}, []string{"acme/c-1", "acme/gw-1"}},
		{"blacklist-again-changes-nothing", func() error { _, err := e.lg.SetBlacklist(ctx, acme, "c-1", true, "stolen"); return err }, nil, nil},
		{"unblacklist", func() error { _, err := e.lg.SetBlacklist(ctx, acme, "c-1", false, ""); return err }, []string{}, []string{"acme/c-1", "acme/gw-1"}},
		{"unbind", func() error { _, err := e.lg.Unbind(ctx, acme, l.ID); return err }, []string{}, []string{"acme/dev-1"}},
		{"revoke", func() error {
			e.bind(acme, l.ID, "dev-1")
			_, err := e.lg.Revoke(ctx, e.root, l.ID)
			return err
		}, []string{"acme/dev-1"}, []string{"acme/dev-1"}},
	}
	trust, _ := e.ks.Trust()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err != nil {
				t.Fatal(err)
			}
			got := rec.take()
			if tc.tell == nil {
				if len(got) != 0 {
					t.Fatalf("told %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d enforcements, want 1: %+v", len(got), got)
			}
			if !slices.Equal(ids(got[0].Disconnect), tc.disconnect) || !slices.Equal(ids(got[0].Notify), tc.tell) {
				t.Fatalf("disconnect %v, tell %v; want %v, %v", ids(got[0].Disconnect), ids(got[0].Notify), tc.disconnect, tc.tell)
			}
			if got[0].RevocationSeq != e.revocationList().Seq {
				t.Fatalf("enforcement carries seq %d; want the current one", got[0].RevocationSeq)
			}
			for _, ref := range got[0].Notify {
				text, err := e.lg.PushRevocationList(ctx, ref.DeviceID)
				if err != nil {
					t.Fatal(err)
				}
				rl, err := token.ParseRevocationList(trust, text)
				if err != nil || rl.Seq != got[0].RevocationSeq || rl.DeviceID != ref.DeviceID {
					t.Fatalf("push list for %s: %+v, %v", ref.DeviceID, rl, err)
				}
			}
		})
	}
}

// TestBlacklistedChildIsLeftOutOfTheGatewaysStanding: the broker grants a
// gateway the topics of its children that are not blacklisted.
func TestBlacklistedChildIsLeftOutOfTheGatewaysStanding(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "gw-1", "sensor-gw")
	e.mustChild(acme, "acme", "c-1", "gw-1")
	e.mustChild(acme, "acme", "c-2", "gw-1")
	l := e.create(dist, std("acme"))
	e.bind(acme, l.ID, "gw-1")
	if _, err := e.lg.SetBlacklist(ctx, acme, "c-1", true, "stolen"); err != nil {
		t.Fatal(err)
	}
	st, err := e.lg.DeviceStanding(ctx, "gw-1", l.ID)
	if err != nil || !slices.Equal(st.Children, []string{"c-2"}) {
		t.Fatalf("standing %+v, %v; want only c-2", st, err)
	}
}
