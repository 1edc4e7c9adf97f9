package runtime

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

const dayLicense = "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b"

// airgapAgent is an agent with no server, on a fake clock at testkit.Epoch.
func airgapAgent(t *testing.T) (*Agent, ed25519.PublicKey, *clock.Fake) {
	t.Helper()
	fake := clock.NewFake(testkit.Epoch)
	a, pubText := openWithServerOpts(t, "", Options{Logger: discardLogger(), Clock: fake})
	pub, err := token.ParsePublicKey(pubText)
	if err != nil {
		t.Fatal(err)
	}
	return a, pub, fake
}

// keyText signs an activation key for the agent's device; mod edits it.
func keyText(t *testing.T, pub ed25519.PublicKey, seq int64, version int64, revSeq int64, mod func(*airgap.ActivationKey)) string {
	t.Helper()
	_, lic := testkit.License(t, devID, pub, func(l *token.License) { l.Version = version })
	_, rev := testkit.Revocation(t, revSeq, nil, nil, nil)
	k := &airgap.ActivationKey{DeviceID: devID, DeviceKey: token.Fingerprint(pub), Seq: seq,
		TrustFingerprint: airgap.TrustFingerprint(testkit.Trust(t)), Tokens: []string{lic}, RevocationList: rev,
		IssuedAt: testkit.Epoch.Unix(), AckedSeq: 0}
	if mod != nil {
		mod(k)
	}
	f, err := airgap.IssueActivationKey(testkit.Signer(t), k)
	if err != nil {
		t.Fatal(err)
	}
	_, text, err := airgap.Dearmor(f)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestActivationKeyAppliedOnceAndInOrder(t *testing.T) {
	a, pub, _ := airgapAgent(t)
	im, err := a.Activate([]string{keyText(t, pub, 2, 1, 1, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(im) != 3 || im[0].Kind != "activation_key" || im[1].Kind != "revocation_list" || im[2].Result != store.TokenStored {
		t.Fatalf("imported %+v", im)
	}
	if st := a.Status(); len(st.Licenses) != 1 {
		t.Fatalf("status licenses %+v", st.Licenses)
	}
	for _, seq := range []int64{2, 1} {
		if _, err := a.Activate([]string{keyText(t, pub, seq, 2, 2, nil)}); !errors.Is(err, airgap.ErrStaleKey) || ErrorCode(err) != "stale_key" {
			t.Fatalf("key seq %d after seq 2: %v", seq, err)
		}
	}
	if v := a.gate.Revocation().Seq; v != 1 {
		t.Fatalf("a refused key changed the revocation list to %d", v)
	}
	// A newer key with the same token and an older list: both kept.
	im, err = a.Activate([]string{keyText(t, pub, 3, 1, 1, nil)})
	if err != nil || len(im) != 2 || im[1].Result != store.TokenUnchanged {
		t.Fatalf("same documents again: %+v, %v", im, err)
	}
	// A top-up: version 2 stored, list 2 stored.
	im, err = a.Activate([]string{keyText(t, pub, 4, 2, 2, nil)})
	if err != nil || len(im) != 3 || im[2].Result != store.TokenStored || a.gate.Revocation().Seq != 2 {
		t.Fatalf("newer key: %+v, %v", im, err)
	}
	// A key carrying an older token than held: the key applies, the token is kept.
	im, err = a.Activate([]string{keyText(t, pub, 5, 1, 2, nil)})
	if err != nil || im[len(im)-1].Result != store.TokenOlder {
		t.Fatalf("older token in a newer key: %+v, %v", im, err)
	}
}

func TestActivationKeyRefusals(t *testing.T) {
	a, pub, fake := airgapAgent(t)
	other := testkit.Pub("another device")
	tests := []struct {
		name string
		text string
		want error
		code string
	}{
		{"error/another-device-id", keyText(t, pub, 1, 1, 1, func(k *airgap.ActivationKey) { k.DeviceID = "pump-2" }), ErrWrongDevice, "wrong_device"},
		{"error/another-device-key", keyText(t, pub, 1, 1, 1, func(k *airgap.ActivationKey) { k.DeviceKey = token.Fingerprint(other) }), ErrWrongDevice, "wrong_device"},
		{"error/token-for-another-device", keyText(t, other, 1, 1, 1, func(k *airgap.ActivationKey) { k.DeviceKey = token.Fingerprint(pub) }), ErrWrongDevice, "wrong_device"},
		{"error/other-trust-bundle", keyText(t, pub, 1, 1, 1, func(k *airgap.ActivationKey) { k.TrustFingerprint = token.Fingerprint(other) }), airgap.ErrTrustMismatch, "trust_mismatch"},
		{"error/expired", keyText(t, pub, 1, 1, 1, func(k *airgap.ActivationKey) {
			k.IssuedAt = testkit.Epoch.Add(-40 * 24 * time.Hour).Unix()
		}), airgap.ErrKeyExpired, "key_expired"},
		{"error/token-list-swapped", keyText(t, pub, 1, 1, 1, func(k *airgap.ActivationKey) { k.Tokens[0], k.RevocationList = k.RevocationList, k.Tokens[0] }), token.ErrWrongKind, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Activate([]string{tt.text})
			if !errors.Is(err, tt.want) || ErrorCode(err) != tt.code {
				t.Fatalf("Activate = %v (%s), want %v (%s)", err, ErrorCode(err), tt.want, tt.code)
			}
			if seq, _ := a.st.Int(store.KeyAirgapSeq()); seq != 0 || len(a.Status().Licenses) != 0 {
				t.Fatalf("a refused key applied something: seq %d", seq)
			}
		})
	}
	// A key is good until its expiry by the effective clock.
	text := keyText(t, pub, 1, 1, 1, nil)
	fake.Advance(airgap.KeyLifetime)
	if _, err := a.Activate([]string{text}); !errors.Is(err, airgap.ErrKeyExpired) {
		t.Fatalf("a key at its expiry: %v", err)
	}
}

// TestReceiptCarriesWhatNoKeyAcknowledged: a receipt holds the deductions
// above the key's acked_seq; exporting twice holds the same records (a lost
// file costs nothing); an acked_seq above the agent's own records (a
// restored older copy) does not hide the records it writes next.
func TestReceiptCarriesWhatNoKeyAcknowledged(t *testing.T) {
	a, pub, _ := airgapAgent(t)
	if _, err := a.Activate([]string{keyText(t, pub, 1, 1, 1, nil)}); err != nil {
		t.Fatal(err)
	}
	at := testkit.Epoch.Unix()
	for seq := int64(1); seq <= 3; seq++ {
		d := store.Deduction{Seq: seq, DeviceID: devID, LicenseID: dayLicense, At: at, PaidUntil: at + 86400, DaysBefore: 10 - seq, DaysAfter: 9 - seq}
		if err := a.st.AppendDeduction(d); err != nil {
			t.Fatal(err)
		}
	}
	devTrust, _ := token.NewTrust(pub)
	open := func() []int64 {
		t.Helper()
		f, r, err := a.ExportUsage()
		if err != nil {
			t.Fatal(err)
		}
		rep, err := airgap.OpenUsageReceipt(devTrust, f)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Nonce != r.Nonce || len(rep.Deductions) != r.Deductions {
			t.Fatalf("receipt %+v, summary %+v", rep, r)
		}
		var seqs []int64
		for _, d := range rep.Deductions {
			seqs = append(seqs, d.Seq)
		}
		return seqs
	}
	if got := open(); len(got) != 3 || got[0] != 1 {
		t.Fatalf("first receipt seqs %v", got)
	}
	if got := open(); len(got) != 3 {
		t.Fatalf("second receipt seqs %v", got)
	}
	if _, err := a.Activate([]string{keyText(t, pub, 2, 1, 1, func(k *airgap.ActivationKey) { k.AckedSeq = 2 })}); err != nil {
		t.Fatal(err)
	}
	if got := open(); len(got) != 1 || got[0] != 3 {
		t.Fatalf("after acked_seq 2: seqs %v", got)
	}
	if _, err := a.Activate([]string{keyText(t, pub, 3, 1, 1, func(k *airgap.ActivationKey) { k.AckedSeq = 9 })}); err != nil {
		t.Fatal(err)
	}
	if acked, _ := a.st.Int(store.KeySyncAcked()); acked != 3 {
		t.Fatalf("acked mark %d, want the agent's own last seq 3", acked)
	}
}

func TestRequestIsSelfSigned(t *testing.T) {
	a, pub, _ := airgapAgent(t)
	f, r, err := a.Request()
	if err != nil {
		t.Fatal(err)
	}
	got, err := airgap.ParseActivationRequest(f)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *r || got.DeviceID != devID || got.PublicKey != token.EncodePublicKey(pub) || got.CreatedAt != testkit.Epoch.Unix() {
		t.Fatalf("request %+v", got)
	}
}
