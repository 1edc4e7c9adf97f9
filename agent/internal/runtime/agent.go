// Package runtime assembles one tollgate-agent from its parts: the state
// database, the device key, the effective clock, the gate, the outbox, the
// upstream publisher, local ingest and the bridge. The CLI and the public
// Go API (agent/sdk) both drive an agent through this package.
package runtime

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/effclock"
	"github.com/tollgate-iot/tollgate/agent/internal/gate"
	"github.com/tollgate-iot/tollgate/agent/internal/identity"
	"github.com/tollgate-iot/tollgate/agent/internal/ingest"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/syncer"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrNotInitialized reports a data directory without `init`.
var ErrNotInitialized = errors.New("data directory is not initialized (run tollgate-agent init)")

// ErrNoTrust reports an agent without a pinned trust bundle.
var ErrNoTrust = errors.New("no trust bundle pinned: pin the license server's with tollgate-agent trust --data DIR --trust FILE")

// Data directory layout.
const (
	deviceKeyFile = "device.key"
	stateDir      = "state"
	addrFile      = "agent.addr"
)

// DeviceKeyPath returns the device key file under data.
func DeviceKeyPath(data string) string { return filepath.Join(data, deviceKeyFile) }

// AddrFile returns the file in which `run` records its control address.
func AddrFile(data string) string { return filepath.Join(data, addrFile) }

// Options are what every agent needs besides its Config.
type Options struct {
	Logger *slog.Logger
	// Clock is the wall clock the effective (license) time is built on.
	Clock clock.Clock
	// Timers paces network retries and counter flushes; it defaults to the
	// real clock even when Clock is a fake, so that a simulation running
	// days in seconds still reconnects on time.
	Timers clock.Clock
	// Keys provides the state key; nil means the file of Config.StateKeyPath.
	Keys store.KeyProvider
}

// Agent is an opened data directory: state, identity, clock and gate.
type Agent struct {
	cfg    config.Config
	log    *slog.Logger
	wall   clock.Clock
	timers clock.Clock
	st     *store.Store
	id     store.Identity
	priv   ed25519.PrivateKey
	trust  *token.Trust
	clk    *effclock.Clock
	gate   *gate.Gate

	refusedBase map[string]int64

	mu  sync.Mutex
	run *running // set while Run runs

	imp  sync.Mutex // one import (activate, control push, sync answer) at a time
	synm sync.Mutex
	sync *syncer.Client // built on the first sync

	// apiRefused counts what the local API's guard refused.
	apiRefused ingest.Refusals
	// lat times syncs and broker CONNECTs (metrics.go).
	lat latency

	// syncKick asks syncLoop for a sync out of turn (kickSync).
	syncKick chan struct{}
	// schedule, if set, replaces the background sync's default schedule
	// (tests shorten or lengthen it).
	schedule func() *syncer.Schedule
}

// Open opens an initialized data directory.
func Open(ctx context.Context, cfg config.Config, o Options) (*Agent, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if _, err := os.Stat(DeviceKeyPath(cfg.Data)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInitialized, err)
	}
	priv, err := identity.Load(DeviceKeyPath(cfg.Data))
	if err != nil {
		return nil, err
	}
	keys := o.Keys
	if keys == nil {
		keys = store.FileKeyProvider{Path: cfg.StateKeyPath()}
	}
	key, err := keys.StateKey(ctx, false)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, store.Options{Dir: filepath.Join(cfg.Data, stateDir), Key: key, Logger: log, Clock: o.Clock})
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: log, wall: clock.OrReal(o.Clock), timers: clock.OrReal(o.Timers), st: st, priv: priv,
		syncKick: make(chan struct{}, 1), lat: newLatency()}
	if err := a.load(); err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

func (a *Agent) load() error {
	id, err := a.st.Identity()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotInitialized, err)
	}
	if id.PublicKey != token.EncodePublicKey(a.priv.Public().(ed25519.PublicKey)) {
		return fmt.Errorf("%w: device key does not match the stored identity", store.ErrCorrupt)
	}
	a.id = id
	if b, err := a.st.Trust(); err == nil {
		if a.trust, err = token.ParseTrustBundle(b); err != nil {
			return fmt.Errorf("%w: pinned trust bundle: %v", store.ErrCorrupt, err)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var cs store.ClockState
	if err := a.st.GetJSON(store.KeyClock(), &cs); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	a.clk = effclock.New(a.wall, cs, time.Duration(a.cfg.ClockTolerance))
	a.gate = gate.New(gate.Options{Clock: a.clk, Ledger: ledger{a.st}, Logger: a.log})
	return a.loadGate()
}

// Close persists the clock and counters and closes the state database.
func (a *Agent) Close() error {
	err := a.persistCounters()
	return errors.Join(err, a.st.Close())
}

// Identity returns who this agent is.
func (a *Agent) Identity() store.Identity { return a.id }

// ledger makes the gate's deductions and self-blacklisting durable.
type ledger struct{ st *store.Store }

func (l ledger) AppendDeduction(d store.Deduction) error { return l.st.AppendDeduction(d) }

func (l ledger) SelfBlacklist(deviceID string, rec store.SelfBlacklist, failed store.Deduction) error {
	return l.st.SelfBlacklist(deviceID, rec, failed)
}
