package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
)

// ErrTLS reports missing or unusable TLS material.
var ErrTLS = errors.New("TLS configuration")

// TLSConfig builds the client TLS configuration for broker from dir: the CA
// (ca.crt) is required; the device's client pair (device-ID.crt/.key) turns
// on mutual TLS when present.
func TLSConfig(dir, deviceID, broker string) (*tls.Config, error) {
	u, err := url.Parse(broker)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTLS, err)
	}
	ca, err := readPEM(filepath.Join(dir, config.CACertFile))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%w: %s holds no certificate", ErrTLS, config.CACertFile)
	}
	tc := &tls.Config{RootCAs: pool, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	crt, key := filepath.Join(dir, config.DeviceCertFile(deviceID)), filepath.Join(dir, config.DeviceKeyFile(deviceID))
	if _, err := os.Stat(crt); err == nil {
		pair, err := tls.LoadX509KeyPair(crt, key)
		if err != nil {
			return nil, fmt.Errorf("%w: device client pair: %v", ErrTLS, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

func readPEM(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTLS, err)
	}
	if st.Size() > limits.MaxPEMBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes", ErrTLS, path, st.Size())
	}
	return os.ReadFile(path)
}
