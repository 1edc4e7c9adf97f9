package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Bounds of TestWebhooksSurviveKill9.
const (
	hookDevices  = 500 // each is blacklisted, then unblacklisted: two events
	hookWorkers  = 4   // admin clients making the events
	hookKills    = 50  // kill -9 and restart this many times while events are made and delivered
	hookFailRate = 0.2 // the receiver answers 500 to this share of requests
	// hookLatency is how long the receiver takes to answer: deliveries
	// lag behind the events, so the kills land on a backlog being
	// delivered (and on requests in flight) rather than on an idle queue.
	hookLatency  = 25 * time.Millisecond
	hookDeadline = 3 * time.Minute
)

// hookServer is a tollgate-server process with webhooks to loopback
// allowed and quick retries, which the test kills and starts again.
type hookServer struct {
	t    *testing.T
	bin  string
	data string
	proc *harness.Proc
	url  atomic.Pointer[string]
}

func (s *hookServer) start() {
	s.t.Helper()
	s.proc = harness.Start(s.t, filepath.Join(s.bin, "tollgate-server"), []string{"serve", "--data", s.data, "--http", "127.0.0.1:0",
		"--profile", "small", "--webhook-allow-private", "--webhook-retry-base", "1s"},
		harness.Options{Env: []string{"HOME=" + s.data}, Grace: 30 * time.Second})
	line, _ := s.proc.NextLine(time.Minute)
	if !strings.HasPrefix(line, "http: http://") {
		s.t.Fatalf("serve printed %q\n%s", line, s.proc.Output())
	}
	u := strings.TrimPrefix(strings.TrimSpace(line), "http: ")
	s.url.Store(&u)
}

// call sends one admin request, resending while the server is down or
// was killed mid-request. ok lists the statuses besides 2xx that count as
// done (409 already_exists: an earlier try was committed before a kill).
func (s *hookServer) call(key, method, path string, in, out any, ok ...int) error {
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	clk := clock.Real{}
	deadline := clk.Now().Add(hookDeadline)
	for clk.Now().Before(deadline) {
		req, _ := http.NewRequest(method, *s.url.Load()+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			time.Sleep(20 * time.Millisecond) // down or restarting: pace the resend
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			if out != nil {
				return json.Unmarshal(raw, out)
			}
			return nil
		case resp.StatusCode >= 500:
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for _, c := range ok {
			if resp.StatusCode == c {
				return nil
			}
		}
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return fmt.Errorf("%s %s: no answer before the deadline", method, path)
}

// hookReceiver is a webhook receiver on a loopback port that fails a
// share of requests at random and verifies every signature with its own
// implementation of the scheme.
type hookReceiver struct {
	url    string
	secret atomic.Pointer[string]

	mu       sync.Mutex
	requests int
	failed   int
	badSig   int
	ids      map[string]string // accepted event id → type
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{ids: map[string]string{}}
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

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	time.Sleep(hookLatency)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	id := req.Header.Get("webhook-id")
	secret := r.secret.Load()
	if secret == nil || !hookSigned(*secret, id, req.Header.Get("webhook-timestamp"), body, req.Header.Get("webhook-signature")) {
		r.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if mrand.Float64() < hookFailRate {
		r.failed++
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var ev struct{ ID, Type string }
	if json.Unmarshal(body, &ev) != nil || ev.ID != id {
		r.badSig++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.ids[id] = ev.Type
	w.WriteHeader(http.StatusNoContent)
}

// hookSigned checks a Standard Webhooks signature from its definition.
func hookSigned(secret, id, ts string, body []byte, header string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(header) {
		if v, sig, ok := strings.Cut(s, ","); ok && v == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

func (r *hookReceiver) counts() (requests, failed, badSig, distinct int, types map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	types = map[string]int{}
	for _, typ := range r.ids {
		types[typ]++
	}
	return r.requests, r.failed, r.badSig, len(r.ids), types
}

// TestWebhooksSurviveKill9 makes 2×hookDevices events (each device
// blacklisted, then unblacklisted) through the admin API while the
// server is killed with SIGKILL hookKills times and restarted, and its
// webhook receiver fails a fifth of the requests. Admin calls cut by a
// kill are sent again (a repeat changes nothing). In the end the receiver
// has every event exactly once by id — none lost, none made twice —
// every signature verified, and the ledger shows every delivery succeeded.
func TestWebhooksSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the server")
	}
	bin := build(t)
	s := &hookServer{t: t, bin: bin, data: filepath.Join(t.TempDir(), "server")}
	var init struct {
		AdminKey string `json:"admin_api_key"`
	}
	out := harness.MustRun(t, 0, harness.Options{}, filepath.Join(bin, "tollgate-server"), "init", "--data", s.data, "-o", "json")
	if err := json.Unmarshal([]byte(out), &init); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}
	key := init.AdminKey
	s.start()
	t.Cleanup(func() {
		if !s.proc.Exited() {
			s.proc.Stop()
		}
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.call(key, "POST", "/v1/customers", wire.CreateCustomerRequest{ID: "dist", Name: "Dist", ParentID: "root"}, nil))
	var distUser wire.CreateUserResponse
	must(s.call(key, "POST", "/v1/users", wire.CreateUserRequest{CustomerID: "dist", Email: "it@dist.test", Role: "admin"}, &distUser))
	distKey := distUser.APIKey
	// The vendor's endpoint hears its subtree: dist's devices' events.
	rcv := newHookReceiver(t)
	var hook wire.Webhook
	must(s.call(key, "POST", "/v1/webhooks", wire.CreateWebhookRequest{CustomerID: "root", URL: rcv.url,
		Events: []string{"device.blacklisted", "device.unblacklisted"}}, &hook))
	rcv.secret.Store(&hook.Secret)

	// The workers make the events; the main goroutine kills meanwhile.
	var made atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int)
	for range hookWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				dev := fmt.Sprintf("hook-%03d", i)
				pub, _, _ := ed25519.GenerateKey(rand.Reader)
				steps := []error{
					s.call(distKey, "POST", "/v1/devices", wire.CreateDeviceRequest{ID: dev, CustomerID: "dist", Model: "sensor-a",
						PublicKey: token.EncodePublicKey(pub)}, nil, http.StatusConflict),
					s.call(distKey, "POST", "/v1/devices/"+dev+"/blacklist", wire.BlacklistRequest{Reason: "test"}, nil),
					s.call(distKey, "POST", "/v1/devices/"+dev+"/unblacklist", nil, nil),
				}
				for _, err := range steps {
					if err != nil {
						t.Error(err)
						return
					}
				}
				made.Add(2)
			}
		}()
	}
	go func() {
		for i := range hookDevices {
			next <- i
		}
		close(next)
	}()
	for range hookKills {
		time.Sleep(time.Duration(300+mrand.IntN(900)) * time.Millisecond) // a random run time between kills
		s.proc.Kill()
		s.start()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want := 2 * hookDevices
	if n := made.Load(); n != int64(want) {
		t.Fatalf("made %d events, want %d", n, want)
	}
	harness.Eventually(t, hookDeadline, func() bool {
		_, _, _, distinct, _ := rcv.counts()
		return distinct >= want
	}, "every event received")
	var ds wire.DeliveryList
	harness.Eventually(t, time.Minute, func() bool {
		if err := s.call(key, "GET", "/v1/webhooks/"+hook.ID+"/deliveries?limit=1000", nil, &ds); err != nil {
			return false
		}
		for _, d := range ds.Deliveries {
			if d.State != "succeeded" {
				return false
			}
		}
		return len(ds.Deliveries) == want
	}, "every delivery recorded as succeeded")
	requests, failed, badSig, distinct, types := rcv.counts()
	if distinct != want || badSig != 0 || types["device.blacklisted"] != hookDevices || types["device.unblacklisted"] != hookDevices {
		t.Fatalf("receiver: %d distinct ids (want %d), %d bad signatures, types %v", distinct, want, badSig, types)
	}
	resent := requests - failed - distinct
	t.Logf("%d events across %d kills: %d requests, %d failed on purpose, %d resent after a kill (same id)",
		want, hookKills, requests, failed, resent)
	if resent == 0 {
		t.Fatalf("no delivery was resent: no kill landed on a delivery in flight, so the test showed nothing about them")
	}
}
