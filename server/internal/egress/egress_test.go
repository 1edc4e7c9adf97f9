package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func publicDNS(_ context.Context, host string) ([]netip.Addr, error) {
	switch host {
	case "hooks.example.test":
		return []netip.Addr{netip.MustParseAddr("203.0.113.7")}, nil
	case "loop.example.test":
		return []netip.Addr{netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("::1")}, nil
	}
	return nil, errors.New("no such host")
}

// TestWebhookURLRefusesPrivateAddresses: URLs into the server's own
// network are refused, by literal address or by a name resolving there
// (localhost through the real resolver), and at dial time; the operator
// flag lets them through.
func TestWebhookURLRefusesPrivateAddresses(t *testing.T) {
	strict := Guard{}
	cases := []struct{ name, url string }{
		{"loopback-v4", "http://127.0.0.1:9000/hook"},
		{"loopback-v6", "http://[::1]:9000/hook"},
		{"metadata", "http://169.254.169.254/latest/meta-data/"},
		{"private-10", "http://10.0.0.1/"},
		{"private-172", "https://172.16.5.4/"},
		{"private-192", "https://192.168.1.1/"},
		{"ula", "http://[fd00::1]/"},
		{"link-local-v6", "http://[fe80::1]/"},
		{"unspecified", "http://0.0.0.0/"},
		{"mapped", "http://[::ffff:127.0.0.1]/"},
		{"localhost", "http://localhost:8080/"},
	}
	for _, c := range cases {
		t.Run("error/"+c.name, func(t *testing.T) {
			if _, err := strict.CheckURL(context.Background(), c.url); !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("CheckURL(%s) = %v, want ErrForbiddenAddress", c.url, err)
			}
			if _, err := (Guard{AllowPrivate: true}).CheckURL(context.Background(), c.url); err != nil {
				t.Fatalf("with private allowed: %v", err)
			}
		})
	}
	fake := Guard{Lookup: publicDNS}
	if _, err := fake.CheckURL(context.Background(), "https://loop.example.test/x"); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("a name with one loopback address: %v", err)
	}
	if _, err := fake.CheckURL(context.Background(), "https://hooks.example.test/x"); err != nil {
		t.Fatalf("public name: %v", err)
	}
	if _, err := fake.CheckURL(context.Background(), "https://nowhere.example.test/x"); !errors.Is(err, ErrBadURL) {
		t.Fatalf("unresolvable name: %v", err)
	}
	for _, bad := range []string{"ftp://hooks.example.test/", "file:///etc/passwd", "https://user:pw@hooks.example.test/",
		"/relative", "https://", "gopher://x", "https://hooks.example.test/#frag", "http://hooks.example.test:99999/",
		"https://hooks.example.test/" + strings.Repeat("a", MaxURLLen)} {
		if _, err := fake.CheckURL(context.Background(), bad); !errors.Is(err, ErrBadURL) {
			t.Errorf("CheckURL(%.60s) = %v, want ErrBadURL", bad, err)
		}
	}
	// At dial time: the address actually dialled is checked.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Control: strict.Control}
	if c, err := d.Dial("tcp", ln.Addr().String()); !errors.Is(err, ErrForbiddenAddress) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial loopback through the guard: %v", err)
	}
	d = net.Dialer{Control: Guard{AllowPrivate: true}.Control}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial loopback with private allowed: %v", err)
	}
	c.Close()
}

func FuzzWebhookURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.test/x", "http://127.0.0.1/", "http://[::1]:80/", "ftp://a/",
		"https://user@hooks.example.test/", "http://0x7f.1/", "http://[::ffff:10.0.0.1]/", "https://hooks.example.test:0/", "http://%31%32%37.0.0.1/"} {
		f.Add(s)
	}
	g := Guard{Lookup: publicDNS}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := g.CheckURL(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, ErrBadURL) && !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		host := u.Hostname()
		if ip, err := netip.ParseAddr(host); err == nil {
			if Forbidden(ip) != "" {
				t.Fatalf("accepted forbidden address %q", raw)
			}
		} else if host != "hooks.example.test" && host != "loop.example.test" {
			t.Fatalf("accepted host %q that does not resolve", host)
		}
		if host == "loop.example.test" {
			t.Fatalf("accepted a name resolving to loopback: %q", raw)
		}
	})
}
