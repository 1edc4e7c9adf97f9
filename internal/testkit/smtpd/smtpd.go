// Package smtpd is a real SMTP server for tests (github.com/emersion/go-smtp)
// on a free loopback port that keeps what it receives: STARTTLS or
// implicit TLS with a certificate made for the test, AUTH PLAIN, and a
// switch to refuse recipients. Parse reads a received message back with
// the standard library's MIME readers.
package smtpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// User and Pass are the credentials the server accepts.
const (
	User = "tollgate"
	Pass = "s3cret"
)

// Options chooses the server's TLS.
type Options struct {
	ImplicitTLS bool // TLS from the first byte (smtps://)
	NoTLS       bool // no STARTTLS offered
}

// Server is a running test SMTP server; Close runs at the test's end.
type Server struct {
	srv  *smtp.Server
	Port int
	// Roots trusts the server's certificate; CAPEM is it in PEM.
	Roots *x509.CertPool
	CAPEM []byte

	mu      sync.Mutex
	got     []Received
	auths   int
	rcptErr *smtp.SMTPError
}

// Received is one message as the server got it.
type Received struct {
	From string
	To   []string
	Data []byte
	TLS  bool
}

// Start runs a server on 127.0.0.1 until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{}
	cert, der := testCert(t)
	s.Roots = x509.NewCertPool()
	s.Roots.AddCert(cert.Leaf)
	s.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	s.srv.Domain = "mail.test"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.MaxMessageBytes = 64 << 20
	if !o.NoTLS {
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	} else {
		s.srv.AllowInsecureAuth = true
	}
	var l net.Listener
	var err error
	if o.ImplicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", s.srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// URL is the server's address with the test credentials, as --smtp.
func (s *Server) URL(scheme string) string {
	return scheme + "://" + User + ":" + Pass + "@127.0.0.1:" + strconv.Itoa(s.Port)
}

// CAFile writes CAPEM to a file in a temporary directory, for --smtp-ca.
func (s *Server) CAFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(p, s.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Messages returns what the server received so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

// Auths is how many AUTHs succeeded.
func (s *Server) Auths() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

// RefuseRecipients makes every RCPT TO fail with e (nil: accept again).
func (s *Server) RefuseRecipients(e *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcptErr = e
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != User || pass != Pass {
			return smtp.ErrAuthFailed
		}
		x.authed = true
		x.s.mu.Lock()
		x.s.auths++
		x.s.mu.Unlock()
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	e := x.s.rcptErr
	x.s.mu.Unlock()
	if e != nil {
		return e
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := x.conn.TLSConnectionState()
	x.s.mu.Lock()
	x.s.got = append(x.s.got, Received{From: x.from, To: x.to, Data: b, TLS: isTLS})
	x.s.mu.Unlock()
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// testCert makes a self-signed certificate for 127.0.0.1.
func testCert(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, der
}
