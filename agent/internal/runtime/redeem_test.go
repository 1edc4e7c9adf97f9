package runtime

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/redeem"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// redeemServer is a stand-in for the license server's online activation:
// it checks the request's signature and answers through answer.
type redeemServer struct {
	mu     sync.Mutex
	seen   []*redeem.Request
	answer func(w http.ResponseWriter, r *redeem.Request)
}

func (s *redeemServer) start(t *testing.T) *httptest.Server {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		b, _ := io.ReadAll(hr.Body)
		req, err := redeem.Parse(strings.TrimSpace(string(b)))
		if hr.URL.Path != redeem.Path || err != nil {
			t.Errorf("request %s: %v", hr.URL.Path, err)
			w.WriteHeader(400)
			return
		}
		s.mu.Lock()
		s.seen = append(s.seen, req)
		answer := s.answer
		s.mu.Unlock()
		answer(w, req)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func (s *redeemServer) requests() []*redeem.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*redeem.Request(nil), s.seen...)
}

func (s *redeemServer) set(f func(w http.ResponseWriter, r *redeem.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = f
}

func refuse(code string, status int) func(w http.ResponseWriter, r *redeem.Request) {
	return func(w http.ResponseWriter, r *redeem.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"error":{"code":"`+code+`","message":"refused"}}`)
	}
}

func signedAnswer(t *testing.T, serverTime int64, nonce func(*redeem.Request) string, tokens ...string) func(w http.ResponseWriter, r *redeem.Request) {
	_, rev := testkit.Revocation(t, 1, nil, nil, nil)
	return func(w http.ResponseWriter, r *redeem.Request) {
		text, err := syncproto.SignResponse(testkit.Signer(t), &syncproto.Response{DeviceID: r.DeviceID, Nonce: nonce(r),
			ServerTime: serverTime, Missing: []syncproto.SeqRange{}, Tokens: tokens, RevocationList: rev})
		if err != nil {
			t.Error(err)
		}
		io.WriteString(w, text)
	}
}

// TestRedeemRetriesAStaleRequestAtTheServersDate: a device whose clock is
// two days behind is refused stale_request, asks again dated by the
// server's Date header, imports the token and list, and its effective
// clock takes the signed server time.
func TestRedeemRetriesAStaleRequestAtTheServersDate(t *testing.T) {
	serverNow := clock.Real{}.Now().Add(48 * time.Hour).Truncate(time.Second)
	rs := &redeemServer{}
	hs := rs.start(t)
	a, pub := openWithServer(t, hs.URL)
	tok := license(t, pub, nil)
	sign := signedAnswer(t, serverNow.Unix(), func(r *redeem.Request) string { return r.Nonce }, tok)
	rs.set(func(w http.ResponseWriter, r *redeem.Request) {
		if r.CreatedAt != serverNow.Unix() {
			w.Header().Set("Date", serverNow.UTC().Format(http.TimeFormat))
			refuse("stale_request", http.StatusConflict)(w, r)
			return
		}
		sign(w, r)
	})
	imported, err := a.Redeem(context.Background(), " tg-abcd-1234 ")
	if err != nil {
		t.Fatal(err)
	}
	seen := rs.requests()
	if len(seen) != 2 || seen[0].Nonce == seen[1].Nonce || seen[1].Code != "TG-ABCD-1234" || seen[1].DeviceID != devID ||
		seen[1].Model != "TG-100" || seen[1].PublicKey != pub {
		t.Fatalf("requests %+v", seen)
	}
	if len(imported) != 2 || imported[0].Kind != "revocation_list" || imported[1].Kind != "license" || imported[1].Result != "stored" {
		t.Fatalf("imported %+v", imported)
	}
	if st := a.Status(); len(st.Licenses) != 1 || st.Licenses[0].Status != "active" {
		t.Fatalf("status after redeem: %+v", st.Licenses)
	}
	if eff, _ := a.clk.Now(); eff/int64(time.Second) < serverNow.Unix() {
		t.Fatalf("effective time %d behind the signed server time %d", eff/int64(time.Second), serverNow.Unix())
	}
	// A retry: the same documents are reported unchanged.
	again, err := a.Redeem(context.Background(), "TG-ABCD-1234")
	if err != nil || len(again) != 2 || again[0].Result != "unchanged" || again[1].Result != "unchanged" {
		t.Fatalf("retry: %+v %v", again, err)
	}
}

// TestRedeemRefusals: the server's code reaches the caller; an answer that
// does not echo the request's nonce is refused and imports nothing.
func TestRedeemRefusals(t *testing.T) {
	rs := &redeemServer{}
	hs := rs.start(t)
	a, pub := openWithServer(t, hs.URL)
	rs.set(refuse("unknown_code", http.StatusNotFound))
	_, err := a.Redeem(context.Background(), "TG-0000-0000")
	if !errors.Is(err, ErrRedeemRefused) || ErrorCode(err) != "unknown_code" {
		t.Fatalf("refused: %v (%s)", err, ErrorCode(err))
	}
	rs.set(signedAnswer(t, clock.Real{}.Now().Unix(), func(*redeem.Request) string { return "AAAAAAAAAAAAAAAAAAAAAA" }, license(t, pub, nil)))
	_, err = a.Redeem(context.Background(), "TG-ABCD-1234")
	if ErrorCode(err) != "bad_answer" {
		t.Fatalf("replayed answer: %v (%s)", err, ErrorCode(err))
	}
	if st := a.Status(); len(st.Licenses) != 0 {
		t.Fatalf("a refused answer imported %+v", st.Licenses)
	}
	b, _ := openWithServer(t, "")
	if _, err := b.Redeem(context.Background(), "TG-ABCD-1234"); ErrorCode(err) != "no_server" {
		t.Fatalf("no server: %v (%s)", err, ErrorCode(err))
	}
}
