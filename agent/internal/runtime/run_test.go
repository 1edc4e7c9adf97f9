package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

const devID = "pump-1"

// realWindow puts a license's window around the real now, since running
// agents read the wall clock.
func realWindow(l *token.License) {
	now := clock.Real{}.Now()
	l.NotBefore = now.Add(-24 * time.Hour).Unix()
	l.NotAfter = now.Add(30 * 24 * time.Hour).Unix()
	l.IssuedAt = now.Add(-time.Minute).Unix()
}

type harness struct {
	agent *Agent
	pub   string
	addr  string
	stop  func()
}

// startAgent initializes an agent, activates the given documents built from
// its public key, and runs it against broker.
func startAgent(t *testing.T, broker string, mod func(*config.Config), docs func(pub string) []string) *harness {
	t.Helper()
	cfg := config.Default()
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.Broker = broker
	cfg.Ingest = "127.0.0.1:0"
	if mod != nil {
		mod(&cfg)
	}
	id, err := Init(context.Background(), cfg, InitRequest{DeviceID: devID, Model: "TG-100", Trust: testkit.TrustBundle(t)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if docs != nil {
		if _, err := a.Activate(docs(id.PublicKey)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, func(ad Addrs) { ready <- ad }) }()
	h := &harness{agent: a, pub: id.PublicKey}
	select {
	case ad := <-ready:
		h.addr = ad.Ingest
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	var once bool
	h.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		a.Close()
	}
	t.Cleanup(h.stop)
	return h
}

func license(t *testing.T, pub string, mod func(*token.License)) string {
	t.Helper()
	k, err := token.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	_, text := testkit.License(t, devID, k, func(l *token.License) {
		realWindow(l)
		if mod != nil {
			mod(l)
		}
	})
	return text
}

func post(t *testing.T, addr, body string) wire.IngestResponse {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/v1/samples", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /v1/samples: %d %s", resp.StatusCode, b)
	}
	var out wire.IngestResponse
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func batch(n int, device string) string {
	var b strings.Builder
	b.WriteString(`{"samples":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"device_id":%q,"data":{"n":%d}}`, device, i)
	}
	b.WriteString("]}")
	return b.String()
}

// broker is a real MQTT broker and a recorder of what reaches it.
type broker struct {
	url  string
	sink func() *testkit.Sink // a fresh sink per subtest
	pass func(user string) string
}

func TestEnforcementAgainstNATS(t *testing.T) {
	nats := testkit.StartNATS(t, t.TempDir(), 0)
	testEnforcement(t, broker{url: nats.URL, sink: func() *testkit.Sink { nats.Sink.Reset(); return nats.Sink }, pass: nats.Password})
}

func TestEnforcementAgainstMosquitto(t *testing.T) {
	m := testkit.StartMosquitto(t, "")
	testEnforcement(t, broker{url: m.URL, sink: func() *testkit.Sink { return testkit.Subscribe(t, m.URL) }})
}

func testEnforcement(t *testing.T, b broker) {
	rev := func(revoked, blacklisted []string) func(string) string {
		return func(string) string {
			_, text := testkit.Revocation(t, 1, revoked, nil, blacklisted)
			return text
		}
	}
	lid := "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b"
	tests := []struct {
		name     string
		lic      func(*token.License)
		noLic    bool
		revoke   func(string) string
		device   string
		n        int
		accepted int
		reason   string
		// otherToken tries to activate a token for another device first.
		otherToken bool
	}{
		{name: "ok", n: 5, accepted: 5},
		{name: "error/no_license", noLic: true, n: 2, reason: wire.ReasonNoLicense},
		{name: "error/blacklisted", revoke: rev(nil, []string{devID}), n: 2, reason: wire.ReasonBlacklisted},
		{name: "error/revoked", revoke: rev([]string{lid}, nil), n: 2, reason: wire.ReasonRevoked},
		{name: "error/expired", lic: func(l *token.License) { l.NotAfter = clock.Real{}.Now().Add(-time.Hour).Unix() }, n: 2, reason: wire.ReasonExpired},
		{name: "error/over_budget", lic: func(l *token.License) { l.MaxSamplesPerHour = 1 }, n: 30, accepted: 24, reason: wire.ReasonOverBudget},
		{name: "ok/report_overage", lic: func(l *token.License) { l.MaxSamplesPerHour = 1; l.Enforcement = token.EnforcementReport }, n: 30, accepted: 30},
		{name: "error/unknown_device", device: "pump-9", n: 1, reason: wire.ReasonUnknownDevice},
		{name: "error/wrong_device", noLic: true, otherToken: true, n: 2, reason: wire.ReasonNoLicense},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := b.sink()
			h := startAgent(t, b.url, nil, func(pub string) []string {
				var docs []string
				if !tt.noLic {
					docs = append(docs, license(t, pub, tt.lic))
				}
				if tt.revoke != nil {
					docs = append(docs, tt.revoke(pub))
				}
				if len(docs) == 0 {
					return []string{rev(nil, nil)(pub)}
				}
				return docs
			})
			if tt.otherToken {
				k, _ := token.ParsePublicKey(h.pub)
				_, other := testkit.License(t, "pump-2", k, realWindow)
				if _, err := h.agent.Activate([]string{other}); !errors.Is(err, ErrWrongDevice) {
					t.Fatalf("activating a token for another device: %v, want ErrWrongDevice", err)
				}
			}
			dev := devID
			if tt.device != "" {
				dev = tt.device
			}
			res := post(t, h.addr, batch(tt.n, dev))
			acc := 0
			for i, r := range res.Results {
				if r.Accepted {
					acc++
					if r.Seq != int64(acc) {
						t.Fatalf("sample %d seq %d, want %d", i, r.Seq, acc)
					}
				} else if r.Reason != tt.reason {
					t.Fatalf("sample %d refused %q, want %q", i, r.Reason, tt.reason)
				}
			}
			if acc != tt.accepted {
				t.Fatalf("accepted %d, want %d", acc, tt.accepted)
			}
			if !sink.WaitUnique(acc, 30*time.Second) {
				t.Fatalf("broker did not receive the %d accepted samples", acc)
			}
			for s := int64(1); s <= int64(acc); s++ {
				if !sink.Has(devID, s) {
					t.Fatalf("seq %d missing at the broker", s)
				}
			}
			st := h.agent.Status()
			if tt.reason != "" && st.Refused[tt.reason] != int64(tt.n-tt.accepted) {
				t.Fatalf("status refused = %v", st.Refused)
			}
			if tt.name == "ok/report_overage" && st.Budget.OverageTotal != 6 {
				t.Fatalf("overage counted %d, want 6", st.Budget.OverageTotal)
			}
			if b.pass != nil && acc > 0 && b.pass(devID) != h.agent.password() {
				t.Fatal("the agent did not connect with its token as password")
			}
			h.stop()
		})
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestLocalAPIErrors(t *testing.T) {
	h := startAgent(t, "", nil, nil)
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantErr  string
	}{
		{"error/not-json", `hello`, 400, "invalid_request"},
		{"error/unknown-field", `{"data":{},"nope":1}`, 400, "invalid_request"},
		{"error/too-large", `{"data":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`, 413, "too_large"},
		{"ok/refused-per-sample", `{"samples":[{"data":[1]},{"data":{}}]}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post("http://"+h.addr+"/v1/samples", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantCode, b)
			}
			if tt.wantErr != "" {
				var e wire.ErrorBody
				if json.Unmarshal(b, &e) != nil || e.Error.Code != tt.wantErr {
					t.Fatalf("body %s, want code %q", b, tt.wantErr)
				}
				return
			}
			var out wire.IngestResponse
			json.Unmarshal(b, &out)
			if len(out.Results) != 2 || out.Results[0].Reason != wire.ReasonInvalidSample || out.Results[1].Reason != wire.ReasonNoLicense {
				t.Fatalf("results %+v", out.Results)
			}
		})
	}
}

func TestStatusHourly(t *testing.T) {
	h := startAgent(t, "", nil, func(pub string) []string { return []string{license(t, pub, nil)} })
	post(t, h.addr, batch(3, devID))
	st := h.agent.Status()
	if len(st.Hourly) != 1 || st.Hourly[0].Accepted != 3 {
		t.Fatalf("hourly = %+v", st.Hourly)
	}
}

// TestConcurrentIngestAndStatus runs ingest, status and activation at once,
// for the race detector.
func TestConcurrentIngestAndStatus(t *testing.T) {
	var v2 string
	h := startAgent(t, "", nil, func(pub string) []string {
		v2 = license(t, pub, func(l *token.License) { l.Billing, l.Days, l.Version = token.BillingDays, 5, 2 })
		return []string{license(t, pub, func(l *token.License) { l.Billing, l.Days = token.BillingDays, 5 })}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			h.agent.Status()
		}
		if _, err := h.agent.Activate([]string{v2}); err != nil {
			t.Error(err)
		}
	}()
	for i := 0; i < 20; i++ {
		for _, r := range post(t, h.addr, batch(10, devID)).Results {
			if !r.Accepted {
				t.Fatalf("refused %q", r.Reason)
			}
		}
	}
	<-done
	st := h.agent.Status()
	if st.DeductionSeq != 1 || st.Budget.AcceptedTotal != 200 || *st.Licenses[0].AvailableDays != 4 {
		t.Fatalf("status = %+v", st.DeviceStatus)
	}
}
