package notify

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/egress"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

var ctx = context.Background()

// receiver is a webhook receiver on a real loopback HTTP server. It
// verifies every request's signature with its own implementation of the
// Standard Webhooks scheme (not Sign) and counts distinct ids.
type receiver struct {
	t      *testing.T
	url    string
	secret string
	// fail, if set, answers the n-th request (from 1) with 500.
	fail func(n int) bool
	// answer, if set, writes the answer instead.
	answer func(w http.ResponseWriter)

	mu       sync.Mutex
	n        int
	badSig   int
	ids      map[string]int
	types    []string
	accepted map[string]bool
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{t: t, ids: map[string]int{}, accepted: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	r.url = "http://" + ln.Addr().String() + "/hook"
	return r
}

// verify is the receiver's own implementation of the scheme: the secret
// is the base64 after whsec_; the signed content is id.timestamp.body;
// the header lists space-separated "v1,<base64 HMAC-SHA256>" signatures.
func verify(secret, id, ts string, body []byte, header string) bool {
	key, err := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, id)
	io.WriteString(mac, ".")
	io.WriteString(mac, ts)
	io.WriteString(mac, ".")
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Split(header, " ") {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	id := req.Header.Get("webhook-id")
	if !verify(r.secret, id, req.Header.Get("webhook-timestamp"), body, req.Header.Get("webhook-signature")) {
		r.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.ids[id]++
	if r.answer != nil {
		r.answer(w)
		return
	}
	if r.fail != nil && r.fail(r.n) {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var ev struct {
		ID, Type string
		Data     map[string]any
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != id {
		r.t.Errorf("body %s does not carry id %s: %v", body, id, err)
	}
	if !r.accepted[id] {
		r.types = append(r.types, ev.Type)
	}
	r.accepted[id] = true
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) state() (n, bad, distinct int, types []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, r.badSig, len(r.ids), append([]string(nil), r.types...)
}

type env struct {
	t   *testing.T
	lg  *ledger.Ledger
	clk *clock.Fake
	d   *Deliverer
}

// newEnv opens a real ledger that lets webhooks reach 127.0.0.1 (the
// operator flag) and a deliverer with the given guard, and builds
// root → dist → acme, dist → beta.
func newEnv(t *testing.T, dial egress.Guard) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(store.Options{Dir: t.TempDir(), Profile: store.ProfileSmall, Clock: clk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ks, err := keys.Open(t.TempDir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	lg, err := ledger.New(ledger.Options{DB: db, Clock: clk, Keys: ks, Logger: quiet, Egress: egress.Guard{AllowPrivate: true}})
	if err != nil {
		t.Fatal(err)
	}
	root, _, _, err := lg.Bootstrap(ctx, "Vendor", "ops@vendor.test")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, lg: lg, clk: clk, d: New(Options{Ledger: lg, Clock: clk, Guard: dial, Logger: quiet})}
	for _, c := range [][2]string{{"dist", root.ID}, {"acme", "dist"}, {"beta", "dist"}} {
		if _, err := lg.CreateCustomer(ctx, admin(c[1]), ledger.CustomerInput{ID: c[0], Name: c[0], ParentID: c[1]}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func admin(customer string) ledger.Actor {
	return ledger.Actor{UserID: "u-" + customer, CustomerID: customer, Role: ledger.RoleAdmin}
}

func (e *env) hook(customer string, r *receiver, events ...string) *ledger.Webhook {
	e.t.Helper()
	w, secret, err := e.lg.CreateWebhook(ctx, admin(customer), customer, r.url, events)
	if err != nil {
		e.t.Fatal(err)
	}
	r.secret = secret
	return w
}

func (e *env) blacklist(customer, dev string) {
	e.t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := e.lg.CreateDevice(ctx, admin(customer), ledger.DeviceInput{ID: dev, CustomerID: customer, Model: "sensor-a", PublicKey: token.EncodePublicKey(pub)}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.lg.SetBlacklist(ctx, admin(customer), dev, true, "stolen"); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) pass() int {
	e.t.Helper()
	n, err := e.d.RunOnce(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestWebhookSiblingReceivesNothing: a distributor's endpoint receives
// its customer's device.blacklisted, signed; the customer's sibling's
// endpoint receives nothing.
func TestWebhookSiblingReceivesNothing(t *testing.T) {
	e := newEnv(t, egress.Guard{AllowPrivate: true})
	distR, betaR, acmeR := newReceiver(t), newReceiver(t), newReceiver(t)
	e.hook("dist", distR, ledger.EventDeviceBlacklisted)
	e.hook("beta", betaR, ledger.EventTypes...)
	e.hook("acme", acmeR, ledger.EventDeviceBlacklisted)
	e.blacklist("acme", "dev-1")
	if n := e.pass(); n != 2 {
		t.Fatalf("attempted %d, want 2 (dist and acme)", n)
	}
	for name, r := range map[string]*receiver{"dist": distR, "acme": acmeR} {
		if n, bad, distinct, types := r.state(); n != 1 || bad != 0 || distinct != 1 || len(types) != 1 || types[0] != ledger.EventDeviceBlacklisted {
			t.Errorf("%s: requests %d, bad signatures %d, ids %d, types %v", name, n, bad, distinct, types)
		}
	}
	if n, _, _, _ := betaR.state(); n != 0 {
		t.Fatalf("the sibling beta received %d requests", n)
	}
	if n := e.pass(); n != 0 {
		t.Fatalf("a second pass attempted %d", n)
	}
}

// TestWebhookRetriesWithSameID: a receiver failing its first requests
// gets the event again after each backoff (fake clock), always with the
// same webhook-id, until it succeeds once; then nothing more.
func TestWebhookRetriesWithSameID(t *testing.T) {
	e := newEnv(t, egress.Guard{AllowPrivate: true})
	r := newReceiver(t)
	r.fail = func(n int) bool { return n <= 4 }
	w := e.hook("acme", r, ledger.EventDeviceBlacklisted)
	e.blacklist("acme", "dev-1")
	for i := 0; i < 10; i++ {
		e.pass()
		ds, err := e.lg.ListDeliveries(ctx, admin("acme"), w.ID, 0)
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries %+v, %v", ds, err)
		}
		if ds[0].State == ledger.DeliverySucceeded {
			break
		}
		if e.pass() != 0 {
			t.Fatal("a failed delivery was attempted again before its backoff")
		}
		e.clk.Advance(ds[0].NextAt.Sub(e.clk.Now()))
	}
	ds, _ := e.lg.ListDeliveries(ctx, admin("acme"), w.ID, 0)
	n, bad, distinct, types := r.state()
	if ds[0].State != ledger.DeliverySucceeded || ds[0].Attempts != 5 || ds[0].LastStatus != 204 {
		t.Fatalf("delivery %+v", ds[0])
	}
	if n != 5 || bad != 0 || distinct != 1 || len(types) != 1 {
		t.Fatalf("receiver: %d requests, %d bad signatures, %d distinct ids, accepted %v", n, bad, distinct, types)
	}
	e.clk.Advance(24 * time.Hour)
	if e.pass() != 0 {
		t.Fatal("a succeeded delivery was sent again")
	}
}

// TestWebhookRefusedAtDelivery: a URL accepted while the operator flag
// was on is still refused by a deliverer without it (checked on the
// address dialled), and a redirect to loopback is not followed.
func TestWebhookRefusedAtDelivery(t *testing.T) {
	e := newEnv(t, egress.Guard{})
	r := newReceiver(t)
	w := e.hook("acme", r, ledger.EventDeviceBlacklisted)
	var sawErr error
	e.d.o.OnAttempt = func(_ ledger.Delivery, _ int, err error) { sawErr = err }
	e.blacklist("acme", "dev-1")
	e.pass()
	if n, _, _, _ := r.state(); n != 0 || !errors.Is(sawErr, egress.ErrForbiddenAddress) {
		t.Fatalf("loopback receiver got %d requests; attempt error %v", n, sawErr)
	}
	ds, _ := e.lg.ListDeliveries(ctx, admin("acme"), w.ID, 0)
	if ds[0].State != ledger.DeliveryPending || !strings.Contains(ds[0].LastError, "refused") {
		t.Fatalf("delivery %+v", ds[0])
	}

	// A redirect: the first receiver (reachable, flag on) points at a
	// second; the deliverer does not follow it.
	e2 := newEnv(t, egress.Guard{AllowPrivate: true})
	target, front := newReceiver(t), newReceiver(t)
	front.answer = func(w http.ResponseWriter) {
		w.Header().Set("Location", target.url)
		w.WriteHeader(http.StatusFound)
	}
	w2 := e2.hook("acme", front, ledger.EventDeviceBlacklisted)
	e2.blacklist("acme", "dev-1")
	e2.pass()
	if n, _, _, _ := target.state(); n != 0 {
		t.Fatalf("the redirect target got %d requests", n)
	}
	ds, _ = e2.lg.ListDeliveries(ctx, admin("acme"), w2.ID, 0)
	if ds[0].State != ledger.DeliveryPending || ds[0].LastStatus != http.StatusFound {
		t.Fatalf("redirected delivery %+v", ds[0])
	}
}

// TestWebhookTestEvent: webhook test sends one signed webhook.test event
// to that endpoint only; redeliver sends it again with the same id.
func TestWebhookTestEvent(t *testing.T) {
	e := newEnv(t, egress.Guard{AllowPrivate: true})
	r, other := newReceiver(t), newReceiver(t)
	w := e.hook("acme", r, ledger.EventSyncFork)
	e.hook("dist", other, ledger.EventTypes...)
	d, err := e.lg.TestWebhook(ctx, admin("acme"), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.pass()
	if _, err := e.lg.Redeliver(ctx, admin("acme"), d.ID); err != nil {
		t.Fatal(err)
	}
	e.pass()
	n, bad, distinct, types := r.state()
	if n != 2 || bad != 0 || distinct != 1 || len(types) != 1 || types[0] != ledger.EventWebhookTest {
		t.Fatalf("receiver: %d requests, %d bad, %d ids, %v", n, bad, distinct, types)
	}
	if n, _, _, _ := other.state(); n != 0 {
		t.Fatalf("another endpoint got the test event")
	}
}

func TestSignMatchesIndependentVerifier(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	at := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	sig, err := Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", at, body)
	if err != nil {
		t.Fatal(err)
	}
	// The Standard Webhooks specification's own example.
	if sig != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("signature %s", sig)
	}
	if !verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body, sig) || verify(secret, "msg_other", "1614265330", body, sig) {
		t.Fatal("independent verifier disagrees")
	}
	for _, bad := range []string{"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!"} {
		if _, err := Sign(bad, "x", at, body); !errors.Is(err, ErrBadSecret) {
			t.Errorf("Sign with secret %q: %v", bad, err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	body := make([]byte, 400)
	for b.Loop() {
		if _, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "evt_0123456789abcdef0123456789abcdef", time.Unix(1614265330, 0), body); err != nil {
			b.Fatal(err)
		}
	}
}
