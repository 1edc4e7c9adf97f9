// Package mail sends the server's e-mail (notices, monthly reports) over
// SMTP with github.com/wneessen/go-mail: STARTTLS or implicit TLS, SMTP
// AUTH, plain-text and HTML bodies, attachments. It knows nothing of the
// ledger: the notice deliverer builds a Message and calls Send.
package mail

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// MaxURLBytes bounds the --smtp URL.
const MaxURLBytes = 2048

// ErrConfig reports an SMTP setting that cannot work.
var ErrConfig = errors.New("mail: bad setting")

// TLSMode is how the connection to the SMTP server is protected.
type TLSMode string

const (
	// TLSStartTLS (smtp://, port 587 by default) upgrades the connection
	// with STARTTLS and refuses to go on without it.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit (smtps://, port 465 by default) speaks TLS from the
	// first byte.
	TLSImplicit TLSMode = "implicit"
	// TLSNone (smtp://…?tls=none) sends in the clear: only for a relay on
	// the same machine or a trusted network, and never with a password.
	TLSNone TLSMode = "none"
)

// Config is a parsed --smtp URL and --mail-from address.
type Config struct {
	Host     string
	Port     int
	TLS      TLSMode
	Username string
	Password string
	// From is the envelope and header sender.
	From string
}

// ParseURL reads smtp://[USER[:PASS]@]HOST[:PORT][?tls=none] or
// smtps://[USER[:PASS]@]HOST[:PORT] and the sender address. User and
// password are percent-encoded in the URL.
func ParseURL(raw, from string) (Config, error) {
	if len(raw) > MaxURLBytes {
		return Config{}, fmt.Errorf("%w: --smtp: at most %d bytes", ErrConfig, MaxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("%w: --smtp: %v (want smtp://USER:PASS@HOST:PORT)", ErrConfig, err)
	}
	var c Config
	switch u.Scheme {
	case "smtp":
		c.TLS, c.Port = TLSStartTLS, 587
	case "smtps":
		c.TLS, c.Port = TLSImplicit, 465
	default:
		return Config{}, fmt.Errorf("%w: --smtp: scheme %q: want smtp:// (STARTTLS) or smtps:// (implicit TLS)", ErrConfig, u.Scheme)
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" || u.RawFragment != "" {
		return Config{}, fmt.Errorf("%w: --smtp: want smtp://USER:PASS@HOST:PORT, nothing after the port", ErrConfig)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("%w: --smtp: query: %v", ErrConfig, err)
	}
	for k, vs := range q {
		if k != "tls" || len(vs) != 1 || vs[0] != "none" || u.Scheme != "smtp" {
			return Config{}, fmt.Errorf("%w: --smtp: unknown setting %q (the only one is tls=none, with smtp://)", ErrConfig, k)
		}
		c.TLS = TLSNone
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return Config{}, fmt.Errorf("%w: --smtp: no host", ErrConfig)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("%w: --smtp: port %q: want 1..65535", ErrConfig, p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		if c.Username == "" {
			return Config{}, fmt.Errorf("%w: --smtp: a password without a user", ErrConfig)
		}
	}
	if c.TLS == TLSNone && c.Password != "" {
		return Config{}, fmt.Errorf("%w: --smtp: tls=none would send the password in the clear; use STARTTLS (smtp://) or smtps://", ErrConfig)
	}
	if c.From, err = Address("--mail-from", from); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Address checks one bare e-mail address (no display name, no list).
func Address(what, s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: %s: an address is required, like tollgate@example.com", ErrConfig, what)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("%w: %s %q: want one bare address like tollgate@example.com", ErrConfig, what, s)
	}
	return s, nil
}

// Addr is host:port.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// String describes the setting without the password, for logs.
func (c Config) String() string {
	user := ""
	if c.Username != "" {
		user = c.Username + "@"
	}
	return fmt.Sprintf("smtp %s%s (%s), from %s", user, c.Addr(), c.TLS, c.From)
}
