package api

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func TestOfflineActivationIssuesAVerifiableKey(t *testing.T) {
	e := newSyncEnv(t, 10)
	lic := e.lic["spare-acme"]
	code, raw := e.activate(e.key["acme"], activationRequest(t, "site-1", "site-1"), lic)
	if code != http.StatusOK {
		t.Fatalf("activate: %d %s", code, raw)
	}
	k, ak, trust := e.openKey(raw)
	pub := siteKey("site-1").Public().(ed25519.PublicKey)
	if ak.DeviceID != "site-1" || ak.Seq != 1 || ak.DeviceKey != token.Fingerprint(pub) || !k.DeviceCreated {
		t.Fatalf("key %+v (answer %+v)", ak, k)
	}
	if ak.TrustFingerprint != airgap.TrustFingerprint(trust) || ak.IssuedAt != e.clk.Now().Unix() {
		t.Fatalf("trust fingerprint or issued_at: %+v", ak)
	}
	if len(ak.Tokens) != 1 {
		t.Fatalf("%d tokens, want 1", len(ak.Tokens))
	}
	tl, err := token.Verify(trust, ak.Tokens[0], e.clk.Now())
	if err != nil {
		t.Fatalf("token inside does not verify: %v", err)
	}
	if tl.DeviceID != "site-1" || tl.DeviceKey != token.Fingerprint(pub) || tl.LicenseID != lic {
		t.Fatalf("token is for %s/%s license %s", tl.DeviceID, tl.DeviceKey, tl.LicenseID)
	}
	if _, err := token.ParseRevocationList(trust, ak.RevocationList); err != nil {
		t.Fatalf("revocation list inside: %v", err)
	}
	var d wire.Device
	e.must(200, "GET", "/v1/devices/site-1", e.key["acme"], nil, &d)
	if d.CustomerID != "acme" || d.Model != "sensor-a" || d.KeyFingerprint != token.Fingerprint(pub) {
		t.Fatalf("registered device %+v", d)
	}
	var audit wire.AuditList
	e.must(200, "GET", "/v1/audit?limit=3", e.key["acme"], nil, &audit)
	for _, want := range []string{"device.create", "license.bind", "device.activation_key"} {
		if !strings.Contains(sprint(audit), `"action":"`+want+`"`) {
			t.Fatalf("audit lacks %s: %s", want, sprint(audit))
		}
	}
	// The same request again: the device is known, the license already
	// bound; the answer is a new key with the next seq.
	code, raw = e.activate(e.key["acme"], activationRequest(t, "site-1", "site-1"), lic)
	if code != http.StatusOK {
		t.Fatalf("second activate: %d %s", code, raw)
	}
	if k2, ak2, _ := e.openKey(raw); ak2.Seq != 2 || k2.DeviceCreated {
		t.Fatalf("second key: seq %d, created %v", ak2.Seq, k2.DeviceCreated)
	}
}

func TestActivationKeyAfterTopUpCarriesNewerToken(t *testing.T) {
	e := newSyncEnv(t, 10)
	lic := e.lic["spare-acme"]
	code, raw := e.activate(e.key["acme"], activationRequest(t, "site-1", "site-1"), lic)
	if code != http.StatusOK {
		t.Fatalf("activate: %d %s", code, raw)
	}
	_, first, trust := e.openKey(raw)
	e.must(200, "POST", "/v1/licenses/"+lic+"/days", e.key["root"], wire.AddDaysRequest{Days: 5}, nil)
	e.clk.Advance(time.Minute)
	code, raw = e.call("POST", "/v1/devices/site-1/activation-key", e.key["acme"], nil, nil)
	if code != http.StatusOK {
		t.Fatalf("activation-key: %d %s", code, raw)
	}
	_, second, _ := e.openKey(raw)
	v1, _ := token.Verify(trust, first.Tokens[0], e.clk.Now())
	v2, err := token.Verify(trust, second.Tokens[0], e.clk.Now())
	if err != nil || v1 == nil {
		t.Fatalf("tokens do not verify: %v", err)
	}
	if second.Seq <= first.Seq || v2.Version <= v1.Version || v2.Days != v1.Days+5 {
		t.Fatalf("after top-up: seq %d→%d, version %d→%d, days %d→%d", first.Seq, second.Seq, v1.Version, v2.Version, v1.Days, v2.Days)
	}
	// A device the caller cannot see has no key to make.
	if code, raw := e.call("POST", "/v1/devices/site-1/activation-key", e.key["beta"], nil, nil); code != 404 || errCode(raw) != "not_found" {
		t.Fatalf("beta makes acme's key: %d %s", code, raw)
	}
}

// forgedRequest carries site-1's key but is signed by another device key.
func forgedRequest(t *testing.T) []byte {
	good := activationRequest(t, "site-1", "site-1")
	var r airgap.ActivationRequest
	_, text, _ := airgap.Dearmor(good)
	env, _ := token.Parse(token.KindActivationRequest, text)
	if err := token.DecodePayload(env.Payload, &r); err != nil {
		t.Fatal(err)
	}
	s, _ := token.NewSigner(siteKey("intruder"))
	p, _ := token.EncodePayload(&r)
	forged, _ := s.SignPayload(token.KindActivationRequest, p)
	f, err := airgap.Armor(token.KindActivationRequest, forged)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestOfflineActivationRefusals(t *testing.T) {
	e := newSyncEnv(t, 10)
	good := activationRequest(t, "site-1", "site-1")
	var viewer wire.CreateUserResponse
	e.must(201, "POST", "/v1/users", e.key["acme"], wire.CreateUserRequest{CustomerID: "acme", Email: "viewer@acme.test", Role: "viewer"}, &viewer)
	tests := []struct {
		name, key string
		request   []byte
		license   string
		status    int
		code      string
	}{
		{"error/signed-by-another-device", "acme", forgedRequest(t), e.lic["spare-acme"], 400, "not_self_signed"},
		{"error/key-differs-from-registered", "acme", activationRequest(t, "dev-a", "impostor"), e.lic["spare-acme"], 409, "device_key_mismatch"},
		{"error/truncated", "acme", good[:len(good)-30], e.lic["spare-acme"], 400, "malformed_file"},
		{"error/over-size-cap", "acme", append(bytes.Repeat([]byte("A"), wire.MaxActivationRequestBytes), good...), e.lic["spare-acme"], 400, "invalid_argument"},
		{"error/over-body-cap", "acme", append(bytes.Repeat([]byte("A"), wire.MaxAdminBodyBytes), good...), e.lic["spare-acme"], 413, "body_too_large"},
		{"error/license-of-another-customer", "acme", good, e.lic["spare-beta"], 404, "not_found"},
		{"error/viewer-cannot-bind", "viewer", good, e.lic["spare-acme"], 403, "forbidden"},
		{"error/license-bound-elsewhere", "acme", good, e.lic["dev-a"], 409, "license_bound"},
		{"error/key-file-not-request", "acme", bytes.ReplaceAll(good, []byte("ACTIVATION REQUEST"), []byte("USAGE RECEIPT")), e.lic["spare-acme"], 400, "malformed_document"},
	}
	e.key["viewer"] = viewer.APIKey
	before := e.snapshot()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, raw := e.activate(e.key[tc.key], tc.request, tc.license)
			if code != tc.status || errCode(raw) != tc.code {
				t.Fatalf("%d %s, want %d %s", code, raw, tc.status, tc.code)
			}
		})
	}
	t.Run("error/every-flipped-byte", func(t *testing.T) {
		for i := range good {
			bad := bytes.Clone(good)
			bad[i] ^= 0x01
			code, raw := e.activate(e.key["acme"], bad, e.lic["spare-acme"])
			if code < 400 || code >= 500 || errCode(raw) == "" {
				t.Fatalf("byte %d flipped: %d %s", i, code, raw)
			}
		}
	})
	if after := e.snapshot(); after != before {
		t.Fatalf("a refused activation changed the ledger:\n%s\n%s", before, after)
	}
	if code, _ := e.call("GET", "/v1/devices/site-1", e.key["root"], nil, nil); code != 404 {
		t.Fatalf("site-1 registered by a refused request: %d", code)
	}
}

func TestOfflineActivationModelOutOfRange(t *testing.T) {
	e := newSyncEnv(t, 10)
	var ls wire.LicenseList
	e.must(201, "POST", "/v1/licenses", e.key["root"], wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "days",
		Days: 5, Models: []string{"pump-*"}, Count: 1}, &ls)
	before := e.auditCount()
	code, raw := e.activate(e.key["acme"], activationRequest(t, "site-1", "site-1"), ls.Licenses[0].ID)
	if code != 409 || errCode(raw) != "model_mismatch" {
		t.Fatalf("%d %s, want 409 model_mismatch", code, raw)
	}
	if e.auditCount() != before {
		t.Fatal("refused activation left audit entries (the device was registered)")
	}
	if code, _ := e.call("GET", "/v1/devices/site-1", e.key["root"], nil, nil); code != 404 {
		t.Fatalf("site-1 registered by a refused request: %d", code)
	}
}

func TestWireAnswerDecodes(t *testing.T) {
	// The answer's file is the armored key as is: writing it out and
	// opening it again gives the same key.
	e := newSyncEnv(t, 10)
	_, raw := e.activate(e.key["acme"], activationRequest(t, "site-1", "site-1"), e.lic["spare-acme"])
	var k wire.ActivationKey
	if err := json.Unmarshal(raw, &k); err != nil || !strings.HasPrefix(k.File, "-----BEGIN TOLLGATE ACTIVATION KEY-----\n") || k.Tokens != 1 || k.License == nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
}

func TestUsageImportReconcilesOnce(t *testing.T) {
	e := newSyncEnv(t, 10)
	lic := e.lic["dev-a"]
	t0 := e.clk.Now().Add(-48 * time.Hour)
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, lic, t0, 10), deduction(2, lic, t0.Add(24*time.Hour), 9)}
	r.Counts = []syncproto.HourlyCount{{DeviceID: "dev-a", Hour: t0.Truncate(time.Hour).Unix(), Accepted: 40, Overage: 2, Refused: 1}}
	file := e.receipt(r)
	u := e.mustImport(e.key["acme"], file)
	if u.Duplicate || u.AckedSeq != 2 || u.HighestSeq != 2 || len(u.Gaps) != 0 || u.NewForks != 0 || u.Deductions != 2 || u.Counts != 1 {
		t.Fatalf("first import: %+v", u)
	}
	if got := e.availableDays(lic); got != 8 {
		t.Fatalf("available days %d after two deductions, want 8", got)
	}
	if s := e.status("dev-a"); s.Last7d.Accepted != 40 || s.Syncs != 1 {
		t.Fatalf("sync status after import: %+v", s)
	}
	before := e.snapshot()
	again := e.mustImport(e.key["acme"], file)
	if !again.Duplicate || again.AckedSeq != 2 || again.NewForks != 0 {
		t.Fatalf("second import: %+v", again)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("importing the same receipt again changed the ledger:\n%s\n%s", before, after)
	}
	// The next activation key tells the site what the server holds, so the
	// agent can forget the imported records.
	code, raw := e.call("POST", "/v1/devices/dev-a/activation-key", e.key["acme"], nil, nil)
	if code != http.StatusOK {
		t.Fatalf("activation-key: %d %s", code, raw)
	}
	if _, k, _ := e.openKey(raw); k.AckedSeq != 2 {
		t.Fatalf("activation key acked_seq = %d, want 2", k.AckedSeq)
	}
	// The same records in a new receipt (another nonce) are replays: the
	// days are charged once.
	r2 := e.report("dev-a")
	r2.Deductions, r2.Counts = r.Deductions, r.Counts
	if u := e.mustImport(e.key["acme"], e.receipt(r2)); u.Duplicate || u.NewForks != 0 || e.availableDays(lic) != 8 {
		t.Fatalf("replayed records: %+v, days %d", u, e.availableDays(lic))
	}
}

func TestUsageImportFlagsRestoredCopyAsFork(t *testing.T) {
	e := newSyncEnv(t, 10)
	lic := e.lic["dev-a"]
	t0 := e.clk.Now().Add(-48 * time.Hour)
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, lic, t0, 10), deduction(2, lic, t0.Add(24*time.Hour), 9)}
	e.mustImport(e.key["acme"], e.receipt(r))
	// A restored older copy of the agent wrote other records under the same seqs.
	old := e.report("dev-a")
	old.Deductions = []syncproto.Deduction{deduction(1, lic, t0.Add(time.Hour), 10), deduction(2, lic, t0.Add(25*time.Hour), 9)}
	u := e.mustImport(e.key["acme"], e.receipt(old))
	if u.NewForks != 2 || u.Forks != 2 || u.AckedSeq != 2 {
		t.Fatalf("restored copy: %+v", u)
	}
	// Each day the restored copy used a second time is charged again.
	if got := e.availableDays(lic); got != 6 {
		t.Fatalf("%d days left, want 6: two days used twice are charged twice", got)
	}
	s := e.status("dev-a")
	if s.ForkCount != 2 || len(s.Forks) != 2 {
		t.Fatalf("sync status forks: %+v", s)
	}
	for _, f := range s.Forks {
		if f.Charge == nil || f.Charge.Failed || f.Charge.LicenseID != lic || !f.Charge.Fork {
			t.Fatalf("fork %d charge %+v, want a day of %s", f.Seq, f.Charge, lic)
		}
	}
}

func TestUsageImportRefusals(t *testing.T) {
	e := newSyncEnv(t, 10)
	lic := e.lic["dev-a"]
	t0 := e.clk.Now().Add(-24 * time.Hour)
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, lic, t0, 10)}
	good := e.receipt(r)
	rb := e.report("dev-b")
	rb.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-b"], t0, 10)}
	beta := e.receipt(rb)
	// dev-a's report signed by dev-b's key.
	p, _ := token.EncodePayload(r)
	text, _ := e.dev["dev-b"].SignPayload(token.KindUsageReceipt, p)
	wrongKey, _ := airgap.Armor(token.KindUsageReceipt, text)
	// A sync request (not a receipt) in a receipt frame.
	syncText := sign(t, e.dev["dev-a"], r)
	wrongKind, _ := airgap.Armor(token.KindUsageReceipt, syncText)
	var viewer wire.CreateUserResponse
	e.must(201, "POST", "/v1/users", e.key["acme"], wire.CreateUserRequest{CustomerID: "acme", Email: "viewer@acme.test", Role: "viewer"}, &viewer)
	e.key["viewer"] = viewer.APIKey
	tests := []struct {
		name, key string
		file      []byte
		status    int
		code      string
	}{
		{"error/another-customers-device", "acme", beta, 404, "not_found"},
		{"error/viewer-may-not-import", "viewer", good, 403, "forbidden"},
		{"error/signed-by-another-device", "acme", wrongKey, 401, "bad_signature"},
		{"error/sync-request-not-receipt", "acme", wrongKind, 400, "malformed_document"},
		{"error/activation-request-file", "acme", activationRequest(t, "site-1", "site-1"), 400, "malformed_document"},
		{"error/truncated", "acme", good[:len(good)-25], 400, "malformed_file"},
		{"error/no-final-newline", "acme", good[:len(good)-1], 400, "malformed_file"},
		{"error/over-size-cap", "acme", append(bytes.Repeat([]byte("A"), wire.MaxUsageReceiptBytes), good...), 413, "body_too_large"},
	}
	before := e.snapshot()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, raw := e.importFile(e.key[tc.key], tc.file)
			if code != tc.status || errCode(raw) != tc.code {
				t.Fatalf("%d %s, want %d %s", code, raw, tc.status, tc.code)
			}
		})
	}
	t.Run("error/json-body", func(t *testing.T) {
		code, raw := e.raw("POST", "/v1/usage/import", e.key["acme"], `{"file":"x"}`, "application/json")
		if code != 415 || errCode(raw) != "unsupported_media_type" {
			t.Fatalf("%d %s", code, raw)
		}
	})
	t.Run("error/every-flipped-byte", func(t *testing.T) {
		for i := range good {
			bad := bytes.Clone(good)
			bad[i] ^= 0x01
			code, raw := e.importFile(e.key["acme"], bad)
			if code < 400 || code >= 500 || errCode(raw) == "" {
				t.Fatalf("byte %d flipped: %d %s", i, code, raw)
			}
		}
	})
	if after := e.snapshot(); after != before {
		t.Fatalf("a refused import changed the ledger:\n%s\n%s", before, after)
	}
}

// TestActivationKeyCarriesTheListItsBindSigned: a bind that replaces a
// license (and so supersedes its token) re-signs the revocation list in the
// same transaction; the key must carry that list, not the one before.
func TestActivationKeyCarriesTheListItsBindSigned(t *testing.T) {
	e := newSyncEnv(t, 10)
	var ls wire.LicenseList
	e.must(201, "POST", "/v1/licenses", e.key["root"], wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
		Models: []string{"sensor-*"}, Count: 2}, &ls)
	old, repl := ls.Licenses[0].ID, ls.Licenses[1].ID
	if code, raw := e.activate(e.key["acme"], activationRequest(t, "site-1", "site-1"), old); code != 200 {
		t.Fatalf("first activation: %d %s", code, raw)
	}
	code, raw := e.activate(e.key["acme"], activationRequest(t, "site-1", "site-1"), repl)
	if code != 200 {
		t.Fatalf("replacing activation: %d %s", code, raw)
	}
	k, ak, trust := e.openKey(raw)
	rl, err := token.ParseRevocationList(trust, ak.RevocationList)
	if err != nil {
		t.Fatal(err)
	}
	var cur wire.RevocationHead
	e.must(200, "GET", "/v1/revocation-list", e.key["acme"], nil, &cur)
	if rl.Seq != cur.Seq || k.RevocationSeq != cur.Seq || rl.MinVersion(old) == 0 {
		t.Fatalf("key carries list %d (min version of replaced %d), current is %d", rl.Seq, rl.MinVersion(old), cur.Seq)
	}
	if ak.Seq != 2 || len(ak.Tokens) != 1 {
		t.Fatalf("seq %d, %d tokens; want 2 and only the replacing license's", ak.Seq, len(ak.Tokens))
	}
}
