package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Bounds of TestSyncSurvivesKill9.
const (
	killDevices    = 8
	killDays       = 5000 // each device's day license: far more than the run uses
	killCycles     = 5    // kill -9 and restart this many times under load
	killProgress   = 40   // deductions acknowledged between two kills
	killMaxPerSend = 50   // records one report carries at most
	killMaxRecords = 300  // records one device writes at most (one page of deductions)
	killDeadline   = 60 * time.Second
)

// killServer is a tollgate-server process that the test kills with
// SIGKILL and starts again on the same data directory.
type killServer struct {
	t       *testing.T
	bin     string
	data    string
	extra   []string // more serve flags (--store for replicas)
	proc    *harness.Proc
	url     atomic.Pointer[string]
	restart int
}

func (s *killServer) start() {
	s.t.Helper()
	s.proc = harness.Start(s.t, filepath.Join(s.bin, "tollgate-server"), append([]string{"serve", "--data", s.data, "--http", "127.0.0.1:0", "--profile", "small"}, s.extra...),
		harness.Options{Env: []string{"HOME=" + s.data}, Grace: 30 * time.Second})
	line, _ := s.proc.NextLine(killDeadline)
	if !strings.HasPrefix(line, "http: http://") {
		s.t.Fatalf("serve printed %q\n%s", line, s.proc.Output())
	}
	u := strings.TrimPrefix(strings.TrimSpace(line), "http: ")
	s.url.Store(&u)
}

// kill sends SIGKILL: no shutdown, no flush, whatever was in flight is cut.
func (s *killServer) kill() {
	s.proc.Kill()
	s.restart++
}

func (s *killServer) stop() {
	if s.proc == nil || s.proc.Exited() {
		return
	}
	if err := s.proc.Stop(); err != nil {
		s.t.Errorf("server did not stop cleanly on SIGTERM: %v\n%s", err, s.proc.Stderr())
	}
}

// killDevice is one simulated agent: its key, its day license, the records
// it has written (seq 1..written) and the highest seq any answer acked.
type killDevice struct {
	id      string
	key     *token.Signer
	license string
	start   time.Time // the day of seq n is charged at start + n seconds

	mu      sync.Mutex
	written int64
	acked   int64 // highest acked_seq of any answer
}

// record is seq's deduction, always the same bytes: a resend is a replay,
// never a fork.
func (d *killDevice) record(seq int64) syncproto.Deduction {
	at := d.start.Add(time.Duration(seq) * time.Second)
	return syncproto.Deduction{Seq: seq, LicenseID: d.license, At: at.Unix(), PaidUntil: at.Add(24 * time.Hour).Unix(),
		DaysBefore: killDays - seq + 1, DaysAfter: killDays - seq}
}

// report writes up to n new records and returns a signed request with
// every unacked one (from a little below acked now and then: acked records
// sent again must change nothing).
func (d *killDevice) report(t *testing.T, round, n int) (string, string) {
	d.mu.Lock()
	d.written = min(d.written+int64(n), killMaxRecords)
	from := d.acked + 1
	if round%3 == 0 && d.acked > 2 {
		from = d.acked - 2
	}
	to := min(d.written, from+killMaxPerSend-1)
	d.mu.Unlock()
	r := &syncproto.Report{DeviceID: d.id, Nonce: killNonce(t), SentAt: clock.Real{}.Now().Unix(),
		Tokens: []syncproto.TokenVersion{}, Deductions: []syncproto.Deduction{}, Counts: []syncproto.HourlyCount{}}
	for seq := from; seq <= to; seq++ {
		r.Deductions = append(r.Deductions, d.record(seq))
	}
	text, err := syncproto.SignRequest(d.key, r)
	if err != nil {
		t.Error(err)
	}
	return text, r.Nonce
}

func (d *killDevice) ack(t *testing.T, seq int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if seq > d.written {
		t.Errorf("device %s: server acked seq %d, only %d written", d.id, seq, d.written)
	}
	d.acked = max(d.acked, seq)
}

func killNonce(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Error(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestSyncSurvivesKill9 runs concurrent signed syncs of several devices
// against tollgate-server and kills it with SIGKILL killCycles times under
// that load, restarting it on the same data directory. Devices resend what
// is not acked (and some of what is). At the end, for every device, every
// seq any answer acknowledged is charged exactly once, no seq twice, and
// the license's days left are its days less the deductions charged.
func TestSyncSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the server")
	}
	bin := build(t)
	dir := t.TempDir()
	s := &killServer{t: t, bin: bin, data: filepath.Join(dir, "server")}
	var init struct {
		AdminKey string `json:"admin_api_key"`
	}
	out := harness.MustRun(t, 0, harness.Options{}, filepath.Join(bin, "tollgate-server"), "init", "--data", s.data, "-o", "json")
	if err := json.Unmarshal([]byte(out), &init); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}
	s.start()
	t.Cleanup(s.stop)
	trustOut := filepath.Join(dir, "trust.json")
	harness.MustRun(t, 0, harness.Options{}, filepath.Join(bin, "tollgate-server"), "trust", "--data", s.data, "--out", trustOut)
	raw, err := os.ReadFile(trustOut)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := token.ParseTrustBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	admin := &killAdmin{t: t, s: s, key: init.AdminKey}
	devices := admin.provision()

	ctx, cancel := context.WithTimeout(context.Background(), killDeadline)
	defer cancel()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; !stop.Load() && ctx.Err() == nil; round++ {
				killSync(ctx, t, s, trust, d, round, 1+round%2)
			}
		}()
	}
	total := func() (n int64) {
		for _, d := range devices {
			d.mu.Lock()
			n += d.acked
			d.mu.Unlock()
		}
		return n
	}
	for range killCycles {
		want := total() + killProgress
		for total() < want {
			if ctx.Err() != nil {
				t.Fatalf("no progress: %d acked, want %d (restart %d)\n%s", total(), want, s.restart, s.proc.Output())
			}
			time.Sleep(5 * time.Millisecond) // paces the progress poll; the workers drive the load
		}
		s.kill()
		s.start()
	}
	stop.Store(true)
	wg.Wait()
	drain(ctx, t, devices, func(d *killDevice, _ int) { killSync(ctx, t, s, trust, d, 1, 0) })
	if s.restart != killCycles {
		t.Fatalf("%d restarts, want %d", s.restart, killCycles)
	}
	var acked int64
	for _, d := range devices {
		admin.check(d)
		acked += d.acked
	}
	t.Logf("%d deductions of %d devices acked across %d kills; %d requests cut in flight, %d refused while the server was down",
		acked, len(devices), s.restart, cut.Load(), refused.Load())
}

// drain has every device send until all it wrote is acknowledged (send
// sends one report of d; i counts its resends).
func drain(ctx context.Context, t *testing.T, devices []*killDevice, send func(d *killDevice, i int)) {
	t.Helper()
	for _, d := range devices {
		for i := 0; ; i++ {
			d.mu.Lock()
			done := d.acked == d.written
			d.mu.Unlock()
			if done {
				break
			}
			if i > 100 || ctx.Err() != nil {
				t.Fatalf("device %s: acked %d of %d after %d resends", d.id, d.acked, d.written, i)
			}
			send(d, i)
		}
	}
}

// cut counts the sync requests the kill cut while in flight, refused those
// that found no server listening.
var cut, refused atomic.Int64

// killSync sends one report of d; an answer that opens acks records, any
// failure (the server is down, or was killed mid-request) is retried by the
// next round.
func killSync(ctx context.Context, t *testing.T, s *killServer, trust *token.Trust, d *killDevice, round, n int) {
	text, nonce := d.report(t, round, n)
	if !sendSync(ctx, t, *s.url.Load(), trust, d, text, nonce) {
		time.Sleep(10 * time.Millisecond) // the server is down or restarting: back off a little
	}
}

// sendSync posts one signed report to the server at url and acks what its
// answer acknowledges. It reports whether the server answered it: false
// when it was down (counted in refused), cut the request (cut) or answered
// 503 (busy); any other refusal fails the test.
func sendSync(ctx context.Context, t *testing.T, url string, trust *token.Trust, d *killDevice, text, nonce string) bool {
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/v1/device/sync", strings.NewReader(text))
	if err != nil {
		t.Error(err)
		return false
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			refused.Add(1)
		} else {
			cut.Add(1)
		}
		return false
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		if err == nil && resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("device %s: %d %s", d.id, resp.StatusCode, body)
		}
		return false
	}
	ans, err := syncproto.OpenResponse(trust, d.id, nonce, strings.TrimSpace(string(body)))
	if err != nil {
		t.Errorf("device %s: answer does not open: %v", d.id, err)
		return true
	}
	d.ack(t, ans.AckedSeq)
	return true
}

// killAdmin drives the admin API of the running server.
type killAdmin struct {
	t   *testing.T
	s   *killServer
	key string
}

func (a *killAdmin) call(method, path string, in, out any) {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, *a.s.url.Load()+path, body)
	req.Header.Set("Authorization", "Bearer "+a.key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		a.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
}

// provision creates customer acme with an admin, and killDevices devices
// of acme, each holding a bound day license of killDays days.
func (a *killAdmin) provision() []*killDevice {
	a.call("POST", "/v1/customers", wire.CreateCustomerRequest{ID: "acme", Name: "Acme", ParentID: "root"}, nil)
	var u wire.CreateUserResponse
	a.call("POST", "/v1/users", wire.CreateUserRequest{CustomerID: "acme", Email: "it@acme.test", Role: "admin"}, &u)
	acme := &killAdmin{t: a.t, s: a.s, key: u.APIKey}
	var ls wire.LicenseList
	a.call("POST", "/v1/licenses", wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "days",
		Days: killDays, Models: []string{"*"}, Count: killDevices}, &ls)
	var out []*killDevice
	for i, l := range ls.Licenses {
		id := fmt.Sprintf("press-%02d", i)
		seed := sha256.Sum256([]byte("kill -9 test device " + id))
		key, err := token.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
		if err != nil {
			a.t.Fatal(err)
		}
		acme.call("POST", "/v1/devices", wire.CreateDeviceRequest{ID: id, CustomerID: "acme", Model: "press",
			PublicKey: token.EncodePublicKey(key.PublicKey())}, nil)
		acme.call("POST", "/v1/licenses/"+l.ID+"/bind", wire.BindRequest{DeviceID: id}, nil)
		out = append(out, &killDevice{id: id, key: key, license: l.ID, start: clock.Real{}.Now().Add(-2 * time.Hour)})
	}
	return out
}

// check asserts d's ledger: seqs 1..written charged once each, none twice,
// days left = killDays − charged.
func (a *killAdmin) check(d *killDevice) {
	a.t.Helper()
	var ds wire.DeductionList
	a.call("GET", "/v1/licenses/"+d.license+"/deductions", nil, &ds) // every deduction: the list is not paged
	if len(ds.Deductions) >= wire.MaxPageSize {
		a.t.Fatalf("device %s: %d deductions fill a page; the check would miss some", d.id, len(ds.Deductions))
	}
	charged := map[int64]int{}
	for _, x := range ds.Deductions {
		if x.DeviceID != d.id || x.Failed {
			a.t.Fatalf("device %s: unexpected deduction %+v", d.id, x)
		}
		charged[x.Seq]++
	}
	for seq, n := range charged {
		if n != 1 {
			a.t.Fatalf("device %s: seq %d charged %d times", d.id, seq, n)
		}
		if seq < 1 || seq > d.written {
			a.t.Fatalf("device %s: seq %d charged, only %d written", d.id, seq, d.written)
		}
	}
	for seq := int64(1); seq <= d.acked; seq++ {
		if charged[seq] != 1 {
			a.t.Fatalf("device %s: seq %d acked but charged %d times", d.id, seq, charged[seq])
		}
	}
	var l wire.License
	a.call("GET", "/v1/licenses/"+d.license, nil, &l)
	if l.AvailableDays != killDays-int64(len(charged)) {
		a.t.Fatalf("device %s: %d days left, want %d − %d charged", d.id, l.AvailableDays, killDays, len(charged))
	}
}
