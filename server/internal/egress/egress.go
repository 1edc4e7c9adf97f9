// Package egress guards the server's outbound HTTP calls (webhooks): only
// http and https URLs, and never an address inside the server's own
// network — loopback, link-local (cloud metadata at 169.254.169.254),
// private, unspecified or multicast — unless the operator allows private
// addresses. The check runs when a URL is stored and again on every dial,
// against the address actually connected to, so a name that resolves
// elsewhere later (DNS rebinding) or a redirect cannot get around it.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// MaxURLLen bounds a webhook URL.
const MaxURLLen = 2048

// LookupTimeout bounds the DNS lookup of a URL's host when it is checked.
const LookupTimeout = 5 * time.Second

// ErrBadURL reports a URL that is not an absolute http(s) URL.
var ErrBadURL = errors.New("not an absolute http or https URL")

// ErrForbiddenAddress reports a URL whose host is, or resolves to, an
// address the server must not call.
var ErrForbiddenAddress = errors.New("address is inside the server's network")

// Guard checks outbound URLs and addresses.
type Guard struct {
	// AllowPrivate lets URLs reach loopback, link-local and private
	// addresses (serve --webhook-allow-private): for tests and for
	// operators whose receivers live on their own network.
	AllowPrivate bool
	// Lookup resolves a host name; nil means net.DefaultResolver.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Forbidden reports why ip may not be called, or "" if it may.
func Forbidden(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "invalid address"
	case ip.IsUnspecified():
		return "unspecified address"
	case ip.IsLoopback():
		return "loopback address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local address"
	case ip.IsPrivate():
		return "private address"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast address"
	case ip.Is4() && ip.As4()[0] == 0:
		return "address in 0.0.0.0/8"
	}
	return ""
}

// ParseURL checks the form of raw: an absolute http or https URL with a
// host, no user information (a secret in a URL ends up in logs) and no
// fragment. It does not resolve the host.
func ParseURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURLLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrBadURL, MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q (use http or https)", ErrBadURL, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: no host", ErrBadURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: user information in the URL; authenticate the request by its signature instead", ErrBadURL)
	}
	if u.Fragment != "" || strings.ContainsAny(raw, " \t\r\n") {
		return nil, fmt.Errorf("%w: fragment or white space", ErrBadURL)
	}
	if p := u.Port(); p != "" {
		if n, err := net.LookupPort("tcp", p); err != nil || n < 1 {
			return nil, fmt.Errorf("%w: port %q", ErrBadURL, p)
		}
	}
	return u, nil
}

// CheckURL parses raw and, unless private addresses are allowed, refuses
// it if its host is, or resolves to, an address the server must not call.
// A name that does not resolve is refused too.
func (g Guard) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	if g.AllowPrivate {
		return u, nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := Forbidden(ip); why != "" {
			return nil, fmt.Errorf("%w: %s is a %s", ErrForbiddenAddress, host, why)
		}
		return u, nil
	}
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	addrs, err := g.lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("%w: host %s does not resolve", ErrBadURL, host)
	}
	for _, ip := range addrs {
		if why := Forbidden(ip); why != "" {
			return nil, fmt.Errorf("%w: %s resolves to %s, a %s", ErrForbiddenAddress, host, ip, why)
		}
	}
	return u, nil
}

func (g Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if g.Lookup != nil {
		return g.Lookup(ctx, host)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	return ips, err
}

// Control is a net.Dialer Control function: it refuses a connection to a
// forbidden address, checked after resolution on the address dialled.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q", ErrForbiddenAddress, address)
	}
	if why := Forbidden(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is a %s", ErrForbiddenAddress, ap.Addr(), why)
	}
	return nil
}
