package console

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// FuzzPie: any counts give slices whose numbers add up to the total, in
// order, with finite coordinates and one full disc only when one category
// holds everything.
func FuzzPie(f *testing.F) {
	f.Add(int64(1), int64(0), int64(0))
	f.Add(int64(3), int64(1), int64(1))
	f.Add(int64(1<<40), int64(1), int64(-5))
	f.Fuzz(func(t *testing.T, a, b, c int64) {
		if max(a, b, c) > 1<<60 { // license counts; the sum must not overflow
			t.Skip()
		}
		counts := map[string]int64{"a": a, "b": b, "c": c}
		p := newPie("x", "X", "status", counts)
		var sum int64
		for i, s := range p.Slices {
			sum += s.N
			if s.N <= 0 {
				t.Fatalf("slice %s of %d", s.Key, s.N)
			}
			if i > 0 && s.N > p.Slices[i-1].N {
				t.Fatalf("slices out of order: %+v", p.Slices)
			}
			if s.Full != (len(p.Slices) == 1) || s.Full == (s.Path != "") {
				t.Fatalf("slice %+v of %d", s, len(p.Slices))
			}
			for _, f := range strings.FieldsFunc(s.Path, func(r rune) bool { return strings.ContainsRune("MLAZ ", r) }) {
				v, err := strconv.ParseFloat(f, 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < -1 || v > 121 {
					t.Fatalf("path %q has %q", s.Path, f)
				}
			}
		}
		if sum != p.Total {
			t.Fatalf("slices add up to %d, total %d", sum, p.Total)
		}
	})
}

// FuzzConsolePost posts arbitrary bodies to the forms that take posts
// before sign-in, with a valid form cookie: every answer is a refusal with
// a code or a redirect, never a 500, and nobody is signed in.
func FuzzConsolePost(f *testing.F) {
	w := newWorld(f)
	web, err := New(Options{Ledger: w.lg, Clock: w.le.Clock, Logger: w.le.Logger})
	if err != nil {
		f.Fatal(err)
	}
	h := web.Mount(http.NotFoundHandler())
	f.Add("sign-in", "csrf=T&email=admin%40acme.test&password=x")
	f.Add("invite/abc", "csrf=T&password=aaaaaaaaaaaaaaaa&confirm=aaaaaaaaaaaaaaaa")
	f.Add("sign-in", "csrf=T&email=%ff%fe&password=%00")
	f.Add("sign-in", "csrf=T;email=a")
	var n atomic.Int64 // each post from its own address: the per-address rate must not hide the handlers
	f.Fuzz(func(t *testing.T, path, body string) {
		r := httptest.NewRequest(http.MethodPost, "/console/", strings.NewReader(body))
		i := n.Add(1)
		r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", i>>16&255, i>>8&255, i&255)
		r.URL.Path += path
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: formCookie, Value: "T"})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", r.URL.Path, body, rec.Code, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name == sessionCookie && c.Value != "" {
				t.Fatalf("POST %s %q signed in", r.URL.Path, body)
			}
		}
	})
}
