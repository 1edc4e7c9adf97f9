package ledger

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Replay protection for signed device requests, shared by every replica.
//
// A sync request or an online activation carries a random nonce and the
// device's time; the API refuses one whose time is outside its freshness
// window, and the ledger refuses one whose nonce it accepted before, until
// that window has closed. The accepted nonces of a device live in its sync
// state (SyncState.Nonces), which the transaction applying the request
// reads and writes anyway: claiming a nonce costs no extra key, and two
// replicas that receive the same request at once write the same record,
// so the store lets one commit and the other finds the nonce claimed
// (badger by its one process, PostgreSQL by SERIALIZABLE). A request that
// is refused or fails claims nothing, so the agent may send it again.
//
// Replays are harmless to the ledger's money — it applies each (device,
// seq) once and keeps counts at their highest — so this is defence in
// depth: a captured request gets no answer and is not even looked at again.

// ErrReplay reports a signed request whose nonce the ledger already
// accepted within its freshness window.
var ErrReplay = errors.New("replayed request")

// MaxNoncesPerDevice bounds SyncState.Nonces. A device makes one request
// at a time and syncs minutes apart; one that sends more than this many
// within a freshness window has its oldest nonces forgotten early, and a
// replay of those is answered like a retry — applying nothing new.
const MaxNoncesPerDevice = 64

// MaxNonceLen bounds a nonce's length (the agents' are 22 characters).
const MaxNonceLen = 64

// SeenNonce is one accepted nonce and when it may be forgotten (Unix
// seconds): the end of its request's freshness window.
type SeenNonce struct {
	Nonce string `json:"n"`
	Until int64  `json:"u"`
}

func checkNonce(n string) error {
	if n == "" || len(n) > MaxNonceLen {
		return invalid("nonce of %d bytes: want 1 to %d", len(n), MaxNonceLen)
	}
	return nil
}

// claim records nonce until until in st, or returns ErrReplay if it is
// there and not expired. Expired nonces are dropped, and the oldest beyond
// MaxNoncesPerDevice. until 0 claims nothing.
func (st *SyncState) claim(nonce string, until int64, now time.Time) error {
	if until == 0 {
		return nil
	}
	t := now.Unix()
	st.Nonces = slices.DeleteFunc(st.Nonces, func(n SeenNonce) bool { return n.Until <= t })
	for _, n := range st.Nonces {
		if n.Nonce == nonce {
			return ErrReplay
		}
	}
	if until <= t { // already outside its window: nothing to remember
		return nil
	}
	st.Nonces = append(st.Nonces, SeenNonce{Nonce: nonce, Until: until})
	if n := len(st.Nonces); n > MaxNoncesPerDevice {
		st.Nonces = slices.Delete(st.Nonces, 0, n-MaxNoncesPerDevice)
	}
	return nil
}

// claimNonce claims a report's nonce in the reporter's sync state, which
// applyReport writes.
func (p *reportPlan) claimNonce(nonce string, until int64, now time.Time) error {
	if until == 0 {
		return nil
	}
	if err := p.devs[0].st.claim(nonce, until, now); err != nil {
		return fmt.Errorf("%w: nonce already seen from device %s", err, p.devs[0].id)
	}
	return nil
}
