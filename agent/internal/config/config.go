// Package config is tollgate-agent's one Config: defaults, an optional
// strict JSON file (--config), TOLLGATE_* environment variables and flags,
// in rising order of precedence, then Validate.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrInvalid reports a configuration that cannot run.
var ErrInvalid = errors.New("invalid configuration")

// Child is a device behind a gateway that cannot run the agent itself; the
// gateway enforces its licenses for samples submitted with its device_id.
type Child struct {
	ID    string `json:"id"`
	Model string `json:"model"`
	// PublicKey is the child's Ed25519 key in text form, as registered
	// with `tollgatectl device create`; its tokens name its fingerprint.
	PublicKey string `json:"public_key"`
}

// Duration is a time.Duration that reads "90s" in JSON.
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"1h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Config is everything `tollgate-agent run` needs.
type Config struct {
	// Data is the data directory (device key, state database).
	Data string `json:"data"`
	// Broker is the upstream MQTT broker, tcp://HOST:PORT or ssl://HOST:PORT,
	// or several such addresses comma-separated (upstreams.go); empty runs
	// offline (samples queue in the outbox).
	Broker string `json:"broker"`
	// Server is the license server URL, or several comma-separated.
	Server string `json:"server"`
	// Ingest is where POST /v1/samples listens: 127.0.0.1:PORT or unix:PATH.
	Ingest string `json:"ingest"`
	// Metrics is an extra loopback address for /metrics; by default metrics
	// are served on the ingest listener.
	Metrics string `json:"metrics"`
	// LocalTokenFile, if set, holds the local API token: every request to
	// the local API (and the metrics listener) but GET /healthz must then
	// carry Authorization: Bearer TOKEN.
	LocalTokenFile string `json:"local_token_file"`
	// Bridge is the gateway's local MQTT broker that child devices publish
	// to (bridge mode), tcp://HOST:PORT.
	Bridge string `json:"bridge"`
	// CertsDir holds ca.crt and device-ID.crt/.key for ssl:// brokers.
	CertsDir string `json:"certs_dir"`
	// StateKeyFile holds the state encryption key; keep it off the data
	// partition where possible.
	StateKeyFile string `json:"state_key_file"`
	// QueueMax bounds the outbox in samples.
	QueueMax int `json:"queue_max"`
	// MaxInflight bounds unacknowledged QoS 1 publishes.
	MaxInflight int `json:"max_inflight"`
	// ClockTolerance is how far the clock may step back before tamper.
	ClockTolerance Duration `json:"clock_tolerance"`
	// SyncEveryCommit fsyncs each outbox commit (power-loss safe); off, a
	// process crash still loses nothing.
	SyncEveryCommit bool `json:"sync_every_commit"`
	// Children are the gateway's child devices.
	Children []Child `json:"children"`
	// MemoryLimitMiB is the Go runtime's soft memory limit for
	// `tollgate-agent run` (GOMEMLIMIT wins if set); 0 means none.
	MemoryLimitMiB int `json:"memory_limit_mib"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
}

// Default returns the defaults.
func Default() Config {
	return Config{
		Ingest:          "127.0.0.1:7780",
		QueueMax:        limits.DefaultQueueMax,
		MaxInflight:     limits.DefaultMaxInflight,
		ClockTolerance:  Duration(limits.DefaultClockTolerance),
		SyncEveryCommit: true,
		MemoryLimitMiB:  limits.DefaultMemoryLimitMiB,
		LogLevel:        "info",
	}
}

// LoadFile merges a JSON config file into c: strict (unknown fields are an
// error) and bounded.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limits.MaxConfigFileBytes+1))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := c.Parse(b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Parse merges a JSON config document into c: strict (unknown fields and
// trailing data are errors) and bounded.
func (c *Config) Parse(b []byte) error {
	if len(b) > limits.MaxConfigFileBytes {
		return fmt.Errorf("%w: over %d bytes", ErrInvalid, limits.MaxConfigFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	return nil
}

// StateKeyPath returns the state key file, defaulting to DATA/secrets/state.key.
func (c *Config) StateKeyPath() string {
	if c.StateKeyFile != "" {
		return c.StateKeyFile
	}
	return filepath.Join(c.Data, "secrets", "state.key")
}

// File names in the certificate directory (CertsPath), as the
// development certificate generator (certs/) and an operator's own PKI
// write them: the CA that signs the broker's certificate and, for mutual
// TLS, the device's client pair.
const (
	CACertFile = "ca.crt"
)

// DeviceCertFile is the device's client certificate in the certificate
// directory.
func DeviceCertFile(deviceID string) string { return "device-" + deviceID + ".crt" }

// DeviceKeyFile is the device's client key in the certificate directory.
func DeviceKeyFile(deviceID string) string { return "device-" + deviceID + ".key" }

// CertsPath returns the certificate directory, defaulting to DATA/certs.
func (c *Config) CertsPath() string {
	if c.CertsDir != "" {
		return c.CertsDir
	}
	return filepath.Join(c.Data, "certs")
}

// Validate checks the whole configuration.
func (c *Config) Validate() error {
	if c.Data == "" {
		return fmt.Errorf("%w: data directory is required (--data, TOLLGATE_DATA)", ErrInvalid)
	}
	if err := checkList("broker", c.Broker, func(b string) error { return checkBrokerURL("broker", b, true) }); err != nil {
		return err
	}
	if err := checkList("server", c.Server, CheckServerURL); err != nil {
		return err
	}
	if c.Bridge != "" {
		if err := checkBrokerURL("bridge", c.Bridge, false); err != nil {
			return err
		}
	}
	if err := CheckListen("ingest", c.Ingest); err != nil {
		return err
	}
	if c.Metrics != "" {
		if err := CheckListen("metrics", c.Metrics); err != nil {
			return err
		}
	}
	if c.QueueMax < 1 || c.QueueMax > limits.MaxQueueMax {
		return fmt.Errorf("%w: queue_max %d out of 1..%d", ErrInvalid, c.QueueMax, limits.MaxQueueMax)
	}
	if c.MaxInflight < 1 || c.MaxInflight > limits.MaxInflight {
		return fmt.Errorf("%w: max_inflight %d out of 1..%d", ErrInvalid, c.MaxInflight, limits.MaxInflight)
	}
	if d := time.Duration(c.ClockTolerance); d < time.Minute || d > 7*24*time.Hour {
		return fmt.Errorf("%w: clock_tolerance %v out of 1m..168h", ErrInvalid, d)
	}
	if c.MemoryLimitMiB < 0 || c.MemoryLimitMiB > limits.MaxMemoryLimitMiB {
		return fmt.Errorf("%w: memory_limit_mib %d out of 0..%d", ErrInvalid, c.MemoryLimitMiB, limits.MaxMemoryLimitMiB)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%w: log_level %q", ErrInvalid, c.LogLevel)
	}
	return c.validateChildren()
}

func (c *Config) validateChildren() error {
	if len(c.Children) > limits.MaxChildren {
		return fmt.Errorf("%w: %d children, at most %d", ErrInvalid, len(c.Children), limits.MaxChildren)
	}
	seen := make(map[string]bool, len(c.Children))
	for i, ch := range c.Children {
		if err := ident.CheckID("children id", ch.ID); err != nil {
			return fmt.Errorf("%w: child %d: %v", ErrInvalid, i, err)
		}
		if err := ident.CheckModel(ch.Model); err != nil {
			return fmt.Errorf("%w: child %s: %v", ErrInvalid, ch.ID, err)
		}
		if _, err := token.ParsePublicKey(ch.PublicKey); err != nil {
			return fmt.Errorf("%w: child %s: %v", ErrInvalid, ch.ID, err)
		}
		if seen[ch.ID] {
			return fmt.Errorf("%w: child %s listed twice", ErrInvalid, ch.ID)
		}
		seen[ch.ID] = true
	}
	return nil
}

func checkBrokerURL(what, s string, tlsOK bool) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Path != "" || u.User != nil {
		return fmt.Errorf("%w: %s %q must be tcp://HOST:PORT or ssl://HOST:PORT", ErrInvalid, what, s)
	}
	if u.Scheme != "tcp" && !(tlsOK && u.Scheme == "ssl") {
		return fmt.Errorf("%w: %s scheme %q", ErrInvalid, what, u.Scheme)
	}
	return nil
}

// CheckListen accepts a loopback HOST:PORT or unix:PATH.
func CheckListen(what, s string) error {
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if p == "" {
			return fmt.Errorf("%w: %s unix socket path is empty", ErrInvalid, what)
		}
		return nil
	}
	host, _, ok := strings.Cut(s, ":")
	if !ok || s[len(s)-1] == ':' {
		return fmt.Errorf("%w: %s %q must be 127.0.0.1:PORT or unix:PATH", ErrInvalid, what, s)
	}
	if host != "127.0.0.1" && host != "localhost" && host != "[::1]" {
		return fmt.Errorf("%w: %s must listen on loopback, not %q", ErrInvalid, what, host)
	}
	return nil
}
