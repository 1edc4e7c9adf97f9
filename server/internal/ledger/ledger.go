// Package ledger holds the server's domain rules (docs/design.md): the customer
// tree and its visibility, users and API keys, devices, licenses with derived
// statuses, binding, selling, transfers, day deductions, the audit log, and
// the signed tokens and revocation list that reflect them. It is pure over a
// store and a clock: no HTTP, no wall clock.
//
// Two things about device telemetry are kept apart. Reconciliation is what
// devices report and the ledger settles: sync.go applies a report,
// sync_counts.go checks its hourly counts (keyed by hours of the device's
// clock), sync_forks.go and sync_answer.go record forks and answer,
// sync_received.go keeps what each sync brought per hour of the server's
// clock and the device's clock offset, sync_status.go is the device's
// sync view. Observed telemetry is what the server's own broker saw:
// telemetry_observed.go stores its counts (hours of the server's clock);
// telemetry_view.go and telemetry_discrepancies.go only read both sides to
// lay them next to each other.
package ledger

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/egress"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// SignerSource yields the active signing key (keys.Store and keys.Cache do).
type SignerSource interface {
	Active() (*token.Signer, error)
}

// Options configures New.
type Options struct {
	DB     *store.DB
	Clock  clock.Clock
	Keys   SignerSource
	Logger *slog.Logger
	// RevocationListLifetime is the next_update distance of a signed list;
	// default 24 hours. The scheduler re-signs before it runs out.
	RevocationListLifetime time.Duration
	// DefaultMaxOffline applies to licenses created without max_offline;
	// default 30 days.
	DefaultMaxOffline time.Duration
	// OnChange, if set, is called after every committed change with its
	// action name (metrics).
	OnChange func(action string)
	// Egress checks webhook URLs when they are registered (the zero
	// Guard refuses private addresses).
	Egress egress.Guard
	// OnDeliveryQueued, if set, is called after a commit that queued a
	// webhook delivery (it wakes the deliverer); it must not block.
	OnDeliveryQueued func()
	// DeliveryRetryBase is the wait after a delivery's first failed
	// attempt (it doubles with each further failure); default
	// DeliveryFirstBackoff.
	DeliveryRetryBase time.Duration
	// Mail tells the ledger that the server sends e-mail: notices are
	// queued for it; without it they are marked undelivered.
	Mail bool
}

// Ledger is the license ledger. Writes are serialized by one mutex: each is
// one badger transaction, synced, so counters and indexes never conflict.
type Ledger struct {
	db       *store.DB
	clock    clock.Clock
	keys     SignerSource
	log      *slog.Logger
	rlLife   time.Duration
	maxOff   time.Duration
	onChange func(string)
	egress   egress.Guard
	onQueue  func()
	retry    time.Duration // DeliveryRetryBase
	mail     bool

	// mu serializes the ledger's writers in this process and guards
	// enforcer; readers never take it.
	mu       sync.Mutex
	enforcer Enforcer
	// root is the vendor root customer's id: set once, by New from the
	// store or by Bootstrap, and read by every operation — without mu,
	// which a write holds for its whole transaction.
	root atomic.Pointer[string]

	syncq syncQueue // sync reports waiting for a group commit (syncbatch.go)

	rlCache revocationCache // signed per-device lists of the current seq (revocation.go)

	retention retentionCursor // where the last retention pass stopped (retention.go), under mu
}

// New returns a ledger over o.DB. The root customer is read if the store
// was initialized; Bootstrap creates it otherwise.
func New(o Options) (*Ledger, error) {
	if o.DB == nil || o.Keys == nil {
		return nil, errors.New("ledger: DB and Keys are required")
	}
	lg := &Ledger{db: o.DB, clock: clock.OrReal(o.Clock), keys: o.Keys, log: o.Logger,
		rlLife: o.RevocationListLifetime, maxOff: o.DefaultMaxOffline, onChange: o.OnChange, mail: o.Mail,
		egress: o.Egress, onQueue: o.OnDeliveryQueued, retry: o.DeliveryRetryBase}
	if lg.log == nil {
		lg.log = slog.Default()
	}
	if lg.rlLife <= 0 {
		lg.rlLife = 24 * time.Hour
	}
	if lg.retry <= 0 {
		lg.retry = DeliveryFirstBackoff
	}
	if lg.maxOff <= 0 {
		lg.maxOff = 30 * Day
	}
	err := o.DB.View(func(x *store.Txn) error {
		b, err := x.Get(store.MetaKey("root"))
		if err == nil {
			lg.setRoot(string(b))
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := lg.migrateStats(); err != nil {
		return nil, err
	}
	if err := lg.seedHistory(); err != nil {
		return nil, err
	}
	if err := lg.seedNotices(); err != nil {
		return nil, err
	}
	if err := lg.seedIssued(); err != nil {
		return nil, err
	}
	if err := lg.migrateCountDays(); err != nil {
		return nil, err
	}
	return lg, nil
}

// RootID returns the vendor root customer's id ("" before Bootstrap).
func (lg *Ledger) RootID() string {
	if p := lg.root.Load(); p != nil {
		return *p
	}
	return ""
}

func (lg *Ledger) setRoot(id string) { lg.root.Store(&id) }

// op is one write or read: a transaction, its time and a customer cache.
type op struct {
	lg        *Ledger
	x         *store.Txn
	now       time.Time
	customers map[string]*Customer
	rlDirty   bool          // the revocation list must be re-signed before commit
	actions   []string      // committed actions, for OnChange
	enf       Enforcement   // what the change means for connected devices
	hist      historyBuffer // license history entries, written at commit
	// days are the records of hourly counts read or written (count_days.go).
	days map[string]*countDay

	wakeDeliverer bool // a webhook delivery was queued (events.go)
}

// update runs fn as one serialized, synced transaction. Nothing fn wrote is
// applied if it fails, including the revocation list and tokens it signed.
// After the commit, outside the lock, the Enforcer learns what the change
// means for connected devices.
func (lg *Ledger) update(fn func(o *op) error) error {
	enf, enforcer, err := lg.commit(fn)
	if err == nil && enforcer != nil && (len(enf.Notify) > 0 || len(enf.Tokens) > 0) {
		enforcer.Enforce(enf)
	}
	return err
}

func (lg *Ledger) commit(fn func(o *op) error) (Enforcement, Enforcer, error) {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if lg.RootID() == "" {
		return Enforcement{}, nil, ErrNotInitialized
	}
	var actions []string
	var enf Enforcement
	wake := false
	err := lg.db.Update(func(x *store.Txn) error {
		o := lg.newOp(x)
		if err := fn(o); err != nil {
			return err
		}
		if err := o.flushHistory(); err != nil {
			return err
		}
		if o.rlDirty {
			if _, err := o.advanceRevocationHead(); err != nil {
				return err
			}
		}
		actions, enf, wake = o.actions, o.enf, o.wakeDeliverer
		return nil
	})
	if err == nil && wake && lg.onQueue != nil {
		lg.onQueue()
	}
	if err == nil && lg.onChange != nil {
		for _, a := range actions {
			lg.onChange(a)
		}
	}
	return enf, lg.enforcer, err
}

// view runs fn in a read-only transaction.
func (lg *Ledger) view(fn func(o *op) error) error {
	if lg.RootID() == "" {
		return ErrNotInitialized
	}
	return lg.db.View(func(x *store.Txn) error { return fn(lg.newOp(x)) })
}

// readOnce is view for a read of one key or one short walk
// (store.DB.ReadOnce: on PostgreSQL one statement, no transaction around
// it), for the reads every sync request makes before it is verified.
func (lg *Ledger) readOnce(fn func(o *op) error) error {
	if lg.RootID() == "" {
		return ErrNotInitialized
	}
	return lg.db.ReadOnce(func(x *store.Txn) error { return fn(lg.newOp(x)) })
}

func (lg *Ledger) newOp(x *store.Txn) *op {
	return &op{lg: lg, x: x, now: lg.clock.Now().UTC().Truncate(time.Second), customers: map[string]*Customer{}}
}

// audit appends an entry for one change. before and after are the object's
// states (nil for create or delete). The entry is visible to customerID and
// its ancestors, and to also and theirs (the other side of a move).
func (o *op) audit(a Actor, action, objType, objID, customerID string, before, after any, also ...string) error {
	seq, err := o.x.NextSeq("audit")
	if err != nil {
		return err
	}
	e := AuditEntry{Seq: seq, At: o.now, UserID: a.UserID, ActorOf: a.CustomerID, Action: action,
		ObjectType: objType, ObjectID: objID, CustomerID: customerID}
	if e.Before, err = auditJSON(before); err != nil {
		return err
	}
	if e.After, err = auditJSON(after); err != nil {
		return err
	}
	o.actions = append(o.actions, action)
	o.claimHistory(a, action, objType, objID)
	if err := o.x.PutJSON(store.AuditKey(seq), &e); err != nil {
		return err
	}
	// Index the entry under the owner and its ancestors, so that a
	// customer's listing reads only entries it may see.
	return o.indexUnder(append([]string{customerID}, also...), func(id string) []byte { return store.AuditByCustomerKey(id, seq) })
}

// indexUnder writes key(c) for every customer c among ids and their
// ancestors, once each.
func (o *op) indexUnder(ids []string, key func(string) []byte) error {
	done := map[string]bool{}
	for _, id := range ids {
		c, err := o.customer(id)
		if err != nil {
			return err
		}
		for _, v := range append(slices.Clone(c.Path), c.ID) {
			if done[v] {
				continue
			}
			done[v] = true
			if err := o.x.Put(key(v), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func auditJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	if u, ok := v.(*User); ok { // never log a key hash, not even in the audit log
		c := *u
		c.KeyHash = ""
		v = &c
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ledger: audit encode: %w", err)
	}
	if string(b) == "null" {
		return nil, nil
	}
	return b, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("ledger: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID in lowercase.
func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("ledger: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// serialAlphabet is Crockford base32: no I, L, O, U to misread.
const serialAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newSerial returns a short human code that is not yet in use.
func (o *op) newSerial() (string, error) {
	for range 10 {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		s := []byte("TG-0000-0000")
		for i, j := range []int{3, 4, 5, 6, 8, 9, 10, 11} {
			s[j] = serialAlphabet[b[i]&31]
		}
		used, err := o.x.Has(store.SerialKey(string(s)))
		if err != nil {
			return "", err
		}
		if !used {
			return string(s), nil
		}
	}
	return "", errors.New("ledger: no free serial after 10 tries")
}

func notFound(what, id string) error { return fmt.Errorf("%w: %s %s", ErrNotFound, what, id) }

func mapNotFound(err error, what, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(what, id)
	}
	return err
}
