// Package certs makes the development PKI: a CA, a TLS server certificate
// for the loopback addresses, and client certificates for devices (mTLS).
//
// Generate is idempotent: files that exist and are still good (parse, match
// their key, chain to the CA, cover the asked-for names, and stay valid for
// at least RenewBefore) are left alone, so running it twice changes nothing.
// These certificates are for development and tests only.
package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/ident"
)

const (
	// CAValidity is the lifetime of a new development CA.
	CAValidity = 10 * 365 * 24 * time.Hour
	// LeafValidity is the lifetime of a new server or device certificate.
	LeafValidity = 2 * 365 * 24 * time.Hour
	// RenewBefore is how close to expiry a certificate is replaced.
	RenewBefore = 30 * 24 * time.Hour
	// maxPEMBytes bounds what is read back from an existing file.
	maxPEMBytes = 64 << 10
)

// File names inside the output directory.
const (
	CACert     = "ca.crt"
	CAKey      = "ca.key"
	ServerCert = "server.crt"
	ServerKey  = "server.key"
)

// DeviceCert and DeviceKey return the file names of a device's client pair.
func DeviceCert(id string) string { return "device-" + id + ".crt" }

// DeviceKey returns the file name of a device's client private key.
func DeviceKey(id string) string { return "device-" + id + ".key" }

// Options says what to generate.
type Options struct {
	// Hosts are the server certificate's DNS names and IP addresses.
	// Empty means localhost, 127.0.0.1 and ::1.
	Hosts []string
	// Devices are the device ids that get client certificates (CN = id).
	Devices []string
	// Clock defaults to the real clock.
	Clock clock.Clock
}

// DefaultHosts are the server names used when Options.Hosts is empty.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// Result lists the files Generate wrote; an empty list means nothing changed.
type Result struct {
	Written []string
}

// Generate creates or refreshes the development PKI in dir.
func Generate(dir string, opts Options) (Result, error) {
	var res Result
	clk := clock.OrReal(opts.Clock)
	hosts := opts.Hosts
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	for _, id := range opts.Devices {
		if err := ident.CheckID("device_id", id); err != nil {
			return res, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	now := clk.Now()
	ca, caKey, err := loadPair(dir, CACert, CAKey, now)
	caFresh := false
	if err != nil || !ca.IsCA {
		ca, caKey, err = newCA(now)
		if err != nil {
			return res, err
		}
		if err := writePair(dir, CACert, CAKey, ca, caKey, &res); err != nil {
			return res, err
		}
		caFresh = true
	}
	leaves := []leafSpec{{cert: ServerCert, key: ServerKey, cn: "tollgate-server", hosts: hosts, server: true}}
	for _, id := range opts.Devices {
		leaves = append(leaves, leafSpec{cert: DeviceCert(id), key: DeviceKey(id), cn: id})
	}
	for _, l := range leaves {
		if !caFresh && leafGood(dir, l, ca, now) {
			continue
		}
		cert, key, err := newLeaf(l, ca, caKey, now)
		if err != nil {
			return res, err
		}
		if err := writePair(dir, l.cert, l.key, cert, key, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

type leafSpec struct {
	cert, key, cn string
	hosts         []string
	server        bool
}

func leafGood(dir string, l leafSpec, ca *x509.Certificate, now time.Time) bool {
	cert, _, err := loadPair(dir, l.cert, l.key, now)
	if err != nil || cert.CheckSignatureFrom(ca) != nil || cert.Subject.CommonName != l.cn {
		return false
	}
	for _, h := range l.hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func loadPair(dir, certName, keyName string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := readPEM(filepath.Join(dir, certName), "CERTIFICATE")
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(cb)
	if err != nil {
		return nil, nil, err
	}
	kb, err := readPEM(filepath.Join(dir, keyName), "PRIVATE KEY")
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb)
	if err != nil {
		return nil, nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("key does not match certificate")
	}
	if now.Before(cert.NotBefore) || now.Add(RenewBefore).After(cert.NotAfter) {
		return nil, nil, errors.New("certificate expires soon or is not yet valid")
	}
	return cert, key, nil
}

func readPEM(path, typ string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxPEMBytes {
		return nil, fmt.Errorf("%s is too large", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode(b)
	if block == nil || block.Type != typ || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%s is not one PEM %s", path, typ)
	}
	return block.Bytes, nil
}

func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Tollgate development CA", Organization: []string{"Tollgate (development only)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func newLeaf(l leafSpec, ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(LeafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if l.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range l.hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else if !slices.Contains(tmpl.DNSNames, h) {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

// writePair writes the key (0600) before the certificate (0644), each through
// a temporary file and a rename, so a crash never pairs a new certificate
// with an old key.
func writePair(dir, certName, keyName string, cert *x509.Certificate, key *ecdsa.PrivateKey, res *Result) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		return err
	}
	res.Written = append(res.Written, keyName, certName)
	return nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
