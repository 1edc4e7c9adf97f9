package syncer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// replicas gives the harness's client three addresses: a closed port, a
// server answering what first answers (returned), and the harness's fake
// server.
func (h *harness) replicas(t *testing.T, first func(*syncproto.Report) (int, string, *syncproto.Response)) *fakeServer {
	t.Helper()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	a := &fakeServer{t: t, dev: h.fake.dev, srv: h.fake.srv, answer: first}
	as := httptest.NewServer(a)
	t.Cleanup(as.Close)
	h.client.urls = []string{closed.URL, as.URL, h.client.urls[0]}
	return a
}

// TestSyncFailsOverToTheNextServer: the first address is down and the
// second answers 503; the sync goes to the third, with a new request each
// time (a new nonce), and the next sync starts there.
func TestSyncFailsOverToTheNextServer(t *testing.T) {
	h := newHarness(t)
	putDeductions(t, h.st, "gw-1", 1, 3)
	failing := h.replicas(t, refuse(http.StatusServiceUnavailable, "unavailable"))
	res, err := h.client.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.AckedSeq != 3 || len(failing.reports) != 1 || len(h.fake.reports) != 1 {
		t.Fatalf("result %+v; the failing replica saw %d reports, the third %d", res, len(failing.reports), len(h.fake.reports))
	}
	if failing.reports[0].Nonce == h.fake.reports[0].Nonce {
		t.Fatal("the same request (nonce) was sent to two replicas: the second would refuse it as a replay")
	}
	if got := h.client.Failovers(); got != 2 {
		t.Fatalf("failovers %d, want 2", got)
	}
	if h.client.Server() != h.client.urls[2] {
		t.Fatalf("next sync starts at %s, want the address that answered", h.client.Server())
	}
	if _, err := h.client.Sync(context.Background()); err != nil || len(failing.reports) != 1 || len(h.fake.reports) != 2 {
		t.Fatalf("second sync: %v; reports %d and %d", err, len(failing.reports), len(h.fake.reports))
	}
}

// TestSyncRefusalIsNotAFailover: a 4xx refusal is the server's verdict,
// the same on every replica: the sync stops there.
func TestSyncRefusalIsNotAFailover(t *testing.T) {
	h := newHarness(t)
	putDeductions(t, h.st, "gw-1", 1, 3)
	refusing := h.replicas(t, refuse(http.StatusUnprocessableEntity, "counter_went_down"))
	_, err := h.client.Sync(context.Background())
	var se *Error
	if !errors.As(err, &se) || se.Code != "counter_went_down" {
		t.Fatalf("Sync = %v, want the refusal", err)
	}
	if len(refusing.reports) != 1 || len(h.fake.reports) != 0 {
		t.Fatalf("the refusing replica saw %d reports, the next %d: want 1 and 0", len(refusing.reports), len(h.fake.reports))
	}
}

// TestSyncEveryServerDown: with every address down the sync fails as a
// network error (retried by the schedule), each address tried once.
func TestSyncEveryServerDown(t *testing.T) {
	h := newHarness(t)
	var urls []string
	for range 3 {
		hs := httptest.NewServer(http.NotFoundHandler())
		hs.Close()
		urls = append(urls, hs.URL)
	}
	h.client.urls = urls
	_, err := h.client.Sync(context.Background())
	if !errors.Is(err, ErrNetwork) || !Retryable(err) || h.client.Failovers() != 2 {
		t.Fatalf("Sync = %v, failovers %d", err, h.client.Failovers())
	}
}

func TestSplitURLs(t *testing.T) {
	got := SplitURLs(" https://a:8443/, ,https://b:8443 ")
	if len(got) != 2 || got[0] != "https://a:8443/" || got[1] != "https://b:8443" {
		t.Fatalf("SplitURLs = %q", got)
	}
	if len(SplitURLs(" , ")) != 0 {
		t.Fatal("empty items kept")
	}
}
