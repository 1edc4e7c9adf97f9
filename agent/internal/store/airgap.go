package store

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// KeyAirgapSeq is the key of the Seq of the last activation key applied
// (air-gapped sites, docs/design.md#air-gapped-sites): a key at or below it is refused.
func KeyAirgapSeq() []byte { return []byte(prefixMeta + "airgap_seq") }

// KeyToApply is one verified activation key as the store applies it.
type KeyToApply struct {
	// DeviceID is the agent's own device: AckedSeq applies to its records.
	DeviceID string
	Seq      int64
	// Tokens are the key's verified license tokens.
	Tokens []TokenToApply
	// Revocation is the key's list text, or "" to keep the list held.
	Revocation string
	// AckedSeq is the server's acked_seq from the key.
	AckedSeq int64
	// Clock is the effective clock's state with the key's issue time seen.
	Clock ClockState
}

// TokenToApply is one verified license token.
type TokenToApply struct {
	License *token.License
	Text    string
}

// Token results of ApplyKey.
const (
	TokenStored    = "stored"
	TokenUnchanged = "unchanged"
	TokenOlder     = "older; kept the newer one held"
)

// ApplyKey applies an activation key in one transaction, then fsyncs: its
// Seq, its tokens (a token older than one held is skipped, as on sync; a
// newer one lifts its device's self-blacklist), its revocation list, the
// acknowledged deduction mark and the clock. It refuses a Seq not above
// the last applied with airgap.ErrStaleKey, and applies nothing then. It
// returns each token's result, in order.
//
// The acknowledged mark moves to the key's AckedSeq as an online sync
// answer's does, but never above the device's own last deduction seq: a
// server that holds more than this agent ever wrote is talking to a
// restored older copy, whose new records must still be exported (the
// server then flags them as forks).
func (s *Store) ApplyKey(k KeyToApply) ([]string, error) {
	results := make([]string, len(k.Tokens))
	err := s.db.Update(func(txn *badger.Txn) error {
		held, err := getInt(txn, KeyAirgapSeq())
		if err != nil {
			return err
		}
		if k.Seq <= held {
			return fmt.Errorf("%w: key seq %d, already applied seq %d", airgap.ErrStaleKey, k.Seq, held)
		}
		if err := SetInt(txn, KeyAirgapSeq(), k.Seq); err != nil {
			return err
		}
		for i, t := range k.Tokens {
			newer, err := putToken(txn, t.License, t.Text)
			switch {
			case errors.Is(err, ErrRollback):
				results[i] = TokenOlder
			case err != nil:
				return err
			case newer:
				results[i] = TokenStored
				if !LiftsSelfBlacklist(t.License) {
					break
				}
				if err := txn.Delete(KeySelfBlacklist(t.License.DeviceID)); err != nil {
					return err
				}
			default:
				results[i] = TokenUnchanged
			}
		}
		if k.Revocation != "" {
			if err := txn.Set(KeyRevocation(), []byte(k.Revocation)); err != nil {
				return err
			}
		}
		own, err := getInt(txn, KeyDeductionSeq(k.DeviceID))
		if err != nil {
			return err
		}
		if err := SetInt(txn, KeySyncAcked(), min(k.AckedSeq, own)); err != nil {
			return err
		}
		return SetJSON(txn, KeyClock(), k.Clock)
	})
	if err != nil {
		return nil, err
	}
	return results, s.Flush()
}
