package ledger

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// ackAfter is ackState without a scan in the usual case: it walks the
// held seqs just above acked, and only when the device has deducted beyond
// where that walk stops (Device.LastSeq bounds every held seq) does it
// scan for the highest seq and the missing ranges.
func (o *op) ackAfter(d *Device, acked int64) (newAcked, highest int64, missing []syncproto.SeqRange, err error) {
	for acked < d.LastSeq {
		held, err := o.x.Has(store.DeductionKey(d.ID, acked+1))
		if err != nil {
			return 0, 0, nil, err
		}
		if !held {
			break
		}
		acked++
	}
	if acked >= d.LastSeq {
		return acked, acked, []syncproto.SeqRange{}, nil
	}
	return o.ackState(d.ID, acked)
}

// ackState walks the deduction records of a device above acked: it returns
// the highest gap-free seq, the highest seq and the missing ranges between
// (at most MaxSyncMissingRanges).
func (o *op) ackState(deviceID string, acked int64) (newAcked, highest int64, missing []syncproto.SeqRange, err error) {
	missing = []syncproto.SeqRange{}
	var after []byte
	if acked > 0 {
		after = store.DeductionKey(deviceID, acked)
	}
	next, gapless := acked+1, true
	highest = acked
	err = o.x.Scan(store.DeductionPrefix(deviceID), after, false, func(k, _ []byte) (bool, error) {
		seq, err := strconv.ParseInt(store.LastPart(k), 10, 64)
		if err != nil {
			return false, fmt.Errorf("ledger: deduction key %q: %w", k, err)
		}
		if seq > next {
			gapless = false
			if len(missing) < MaxSyncMissingRanges {
				missing = append(missing, syncproto.SeqRange{From: next, To: seq - 1})
			}
		}
		if gapless {
			acked = seq
		}
		next, highest = seq+1, seq
		return true, nil
	})
	return acked, highest, missing, err
}

// syncAnswer builds the answer after the report is committed: the device's
// current tokens (re-issued by the deductions just charged) and list.
func (lg *Ledger) syncAnswer(deviceID string, acked int64, missing []syncproto.SeqRange) (*syncproto.Response, error) {
	return lg.syncAnswerOf(deviceID, &reconciled{st: SyncState{AckedSeq: acked}, missing: missing}, 0)
}

// syncAnswerOf is syncAnswer with the acks of a gateway's children. heldSeq
// is the seq of the list the agent says it holds: at the current head the
// answer leaves the list out (revocationAnswer).
func (lg *Ledger) syncAnswerOf(deviceID string, res *reconciled, heldSeq int64) (*syncproto.Response, error) {
	var out *syncproto.Response
	err := lg.view(func(o *op) error {
		var err error
		out, err = o.answerOf(deviceID, res, heldSeq, nil)
		return err
	})
	return out, err
}

// answerOf builds a sync answer in o's transaction. lics are the licenses
// bound to the device in key order, when the caller has read them all
// (answerBatch); nil: answerOf walks them.
func (o *op) answerOf(deviceID string, res *reconciled, heldSeq int64, lics []string) (*syncproto.Response, error) {
	out := &syncproto.Response{DeviceID: deviceID, AckedSeq: res.st.AckedSeq, Missing: res.missing, Children: res.children,
		Tokens: []string{}, ServerTime: o.now.Unix()}
	slices.SortFunc(out.Children, func(a, b syncproto.ChildAck) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	add := func(licenseID string) (bool, error) {
		t, err := o.currentToken(licenseID)
		if err != nil || t == nil {
			return err == nil, err
		}
		out.Tokens = append(out.Tokens, t.Token)
		return len(out.Tokens) < MaxSyncTokens, nil
	}
	var err error
	if lics != nil {
		for _, id := range lics {
			more, err := add(id)
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
		}
	} else {
		err = o.x.Scan(store.LicenseByDevicePrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
			return add(store.LastPart(k))
		})
	}
	if err != nil {
		return nil, err
	}
	if out.RevocationList, err = o.revocationAnswer(deviceID, heldSeq); err != nil {
		return nil, err
	}
	return out, nil
}

// SignSyncResponse signs a sync answer with the active server key.
func (lg *Ledger) SignSyncResponse(r *syncproto.Response) (string, error) {
	s, err := lg.keys.Active()
	if err != nil {
		return "", err
	}
	return syncproto.SignResponse(s, r)
}
