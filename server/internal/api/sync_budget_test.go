package api

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// slowBody is one attacker connection: a sync request that declares a
// length, sends part of its body and then stalls.
type slowBody struct {
	conn net.Conn
	resp chan *http.Response // the server's answer, if it gives one early
}

// openSlowBody dials the server, sends the request line, headers and sent
// bytes of a body declared to be declared bytes long, and keeps reading the
// answer in the background.
func openSlowBody(t *testing.T, addr string, declared int, sent []byte) *slowBody {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &slowBody{conn: conn, resp: make(chan *http.Response, 1)}
	sent = bytes.Clone(sent) // the caller reuses its buffer while this one is still being written
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			resp.Body.Close()
			s.resp <- resp
		}
	}()
	hdr := fmt.Sprintf("POST /v1/device/sync HTTP/1.1\r\nHost: tollgate\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", declared)
	// The writes fail once the server refuses the body and closes: that
	// is the point, so their errors are the answer's to report.
	go func() {
		if _, err := conn.Write([]byte(hdr)); err == nil {
			_, _ = conn.Write(sent)
		}
	}()
	return s
}

// heldOrAnswered waits until the server either counts one more body than
// before (held: it is reading it) or answers s, and returns the answer.
func (e *apiEnv) heldOrAnswered(t *testing.T, s *slowBody, bodiesBefore, bytesBefore int64) *http.Response {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case resp := <-s.resp:
			return resp
		case <-deadline.C:
			t.Fatal("the server neither held nor answered the body")
		case <-tick.C:
			bytes, bodies, _, _ := e.api.bodies.usage()
			if bodies > bodiesBefore && bytes > bytesBefore {
				return nil
			}
		}
	}
}

// TestSyncSlowBodiesStayWithinBudget is the memory amplification attack:
// many connections that declare the largest sync body, send nearly all of
// it and stall. The server holds at most MaxBodyBytesInFlight of them and
// answers the rest 503 with Retry-After at once; when the attackers go,
// every byte is given back.
func TestSyncSlowBodiesStayWithinBudget(t *testing.T) {
	e := newSyncEnv(t, 10)
	addr := e.srv.Listener.Addr().String()
	attackers := MaxBodyBytesInFlight/MaxSyncBodyBytes + 4
	keys := e.floodDevices(attackers) // one key each: the per-key bound is another test's
	body := bytes.Repeat([]byte("A"), MaxSyncBodyBytes-1)
	var held []*slowBody
	busy := 0
	for i := range attackers {
		copy(body, "tg1.syq."+keys[i]+".")
		bytesBefore, bodiesBefore, _, _ := e.api.bodies.usage()
		s := openSlowBody(t, addr, MaxSyncBodyBytes, body) // all but the last byte
		// Held: its whole buffer is counted.
		resp := e.heldOrAnswered(t, s, bodiesBefore, bytesBefore+MaxSyncBodyBytes-1)
		if resp == nil {
			held = append(held, s)
			continue
		}
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != strconv.Itoa(BusyRetryAfter) {
			t.Fatalf("attacker %d: %d, Retry-After %q; want 503 with Retry-After %d", i, resp.StatusCode, resp.Header.Get("Retry-After"), BusyRetryAfter)
		}
		busy++
	}
	_, _, peakBytes, _ := e.api.bodies.usage()
	if peakBytes > MaxBodyBytesInFlight {
		t.Fatalf("%d bytes of bodies in flight, budget %d", peakBytes, MaxBodyBytesInFlight)
	}
	if busy < 4 || len(held) == 0 {
		t.Fatalf("%d held, %d refused busy; want the budget to hold some and refuse at least 4", len(held), busy)
	}
	// A device with a small, valid request is served once the budget has
	// room again: the held bodies end (their senders finish with a byte
	// that makes them malformed) and are given back.
	for _, s := range held {
		if _, err := s.conn.Write([]byte("A")); err != nil {
			t.Fatal(err)
		}
		resp := <-s.resp
		if resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("held body finished: %d, want 413 or 400", resp.StatusCode)
		}
	}
	waitBudgetEmpty(t, e.apiEnv)
	e.sync(e.report("dev-a"))
	waitBudgetEmpty(t, e.apiEnv)
}

// TestSyncSlowBodiesBoundedInNumber: many connections that send just the
// head of a sync request and stall take at most MaxBodiesInFlight places;
// the next is answered 503 with Retry-After before anything of it is read.
func TestSyncSlowBodiesBoundedInNumber(t *testing.T) {
	e := newSyncEnv(t, 10)
	addr := e.srv.Listener.Addr().String()
	keys := e.floodDevices(MaxBodiesInFlight/MaxBodiesPerKey + 1)
	var held []*slowBody
	for i := range MaxBodiesInFlight + 3 {
		head := []byte("tg1.syq." + keys[i/MaxBodiesPerKey] + ".")
		bytesBefore, bodiesBefore, _, _ := e.api.bodies.usage()
		s := openSlowBody(t, addr, MaxSyncBodyBytes, head)
		resp := e.heldOrAnswered(t, s, bodiesBefore, bytesBefore)
		if resp == nil {
			held = append(held, s)
			continue
		}
		if i < MaxBodiesInFlight || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("connection %d: %d, Retry-After %q", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if len(held) != MaxBodiesInFlight {
		t.Fatalf("%d bodies held, want %d", len(held), MaxBodiesInFlight)
	}
	_, _, peakBytes, peakBodies := e.api.bodies.usage()
	if peakBodies > MaxBodiesInFlight || peakBytes > MaxBodyBytesInFlight {
		t.Fatalf("peak %d bodies, %d bytes; bounds %d, %d", peakBodies, peakBytes, MaxBodiesInFlight, MaxBodyBytesInFlight)
	}
	for _, s := range held {
		s.conn.Close()
	}
	waitBudgetEmpty(t, e.apiEnv)
	e.sync(e.report("dev-a"))
}

// TestSyncSlowBodiesOfOneDeviceBounded: one device (its key in an
// attacker's hands) that opens many slow bodies holds at most
// MaxBodiesPerKey places; the next is answered 503 at once, and the rest of
// the fleet still syncs.
func TestSyncSlowBodiesOfOneDeviceBounded(t *testing.T) {
	e := newSyncEnv(t, 10)
	addr := e.srv.Listener.Addr().String()
	head := []byte("tg1.syq." + e.dev["dev-a"].KeyID() + ".")
	for i := range MaxBodiesPerKey + 1 {
		bytesBefore, bodiesBefore, _, _ := e.api.bodies.usage()
		s := openSlowBody(t, addr, MaxSyncBodyBytes, head)
		resp := e.heldOrAnswered(t, s, bodiesBefore, bytesBefore)
		switch {
		case i < MaxBodiesPerKey && resp != nil:
			t.Fatalf("body %d of one key: %d, want it held", i, resp.StatusCode)
		case i == MaxBodiesPerKey && (resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == ""):
			t.Fatalf("body %d of one key: %v, want 503 with Retry-After", i, resp)
		}
	}
	e.sync(e.report("dev-b"))
}

// TestSyncUnknownKeyRefusedAfterItsHead: a body that declares the largest
// size but is signed by a key no registered device holds is refused as
// soon as its key id has arrived, without waiting for (or buffering) the
// rest.
func TestSyncUnknownKeyRefusedAfterItsHead(t *testing.T) {
	e := newSyncEnv(t, 10)
	ghost := deviceSigner(t, "ghost")
	s := openSlowBody(t, e.srv.Listener.Addr().String(), MaxSyncBodyBytes, []byte("tg1.syq."+ghost.KeyID()+"."))
	select {
	case resp := <-s.resp:
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%d, want 401", resp.StatusCode)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the server waits for the body of an unknown key")
	}
	if _, _, peakBytes, _ := e.api.bodies.usage(); peakBytes != 0 {
		t.Fatalf("%d bytes buffered for an unknown key", peakBytes)
	}
	// A wrong kind is refused by its head too.
	s = openSlowBody(t, e.srv.Listener.Addr().String(), MaxSyncBodyBytes, []byte("tg1.use."+e.dev["dev-a"].KeyID()+"."))
	select {
	case resp := <-s.resp:
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("wrong kind: %d, want 400", resp.StatusCode)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the server waits for the body of a wrong kind")
	}
	// A declared length over the bound is refused before any of it is read.
	s = openSlowBody(t, e.srv.Listener.Addr().String(), MaxSyncBodyBytes+1, nil)
	select {
	case resp := <-s.resp:
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("too long: %d, want 413", resp.StatusCode)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the server waits for a body declared too large")
	}
}

// floodDevices registers n more devices of acme and returns their key ids.
func (e *syncEnv) floodDevices(n int) []string {
	e.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id := fmt.Sprintf("flood-%03d", i)
		e.addDevice("acme", id, "")
		ids[i] = e.dev[id].KeyID()
	}
	return ids
}

func waitBudgetEmpty(t *testing.T, e *apiEnv) {
	t.Helper()
	for range 2000 {
		if b, n, _, _ := e.api.bodies.usage(); b == 0 && n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, n, _, _ := e.api.bodies.usage()
	t.Fatalf("budget not given back: %d bytes, %d bodies", b, n)
}
