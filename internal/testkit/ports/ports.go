// Package ports finds free loopback TCP ports for tests that start
// listeners of their own (brokers, cluster routes) — never the well-known
// ones.
package ports

import (
	"net"
	"testing"
)

// Free returns n distinct free loopback ports: each is listened on until
// all are found, then released for the caller to bind.
func Free(t testing.TB, n int) []int {
	t.Helper()
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out
}
