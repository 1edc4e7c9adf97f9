package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// RedeemFailures is what the store knows of failed online activations in
// the current window (docs/server.md "Online activation"): the API refuses
// a source, or serial redemption as a whole, past its bounds until End.
type RedeemFailures struct {
	// Source is the failures of the asking source address.
	Source int64
	// Serial is the failed serial redemptions from all sources.
	Serial int64
	// End is when the window ends and the counts start again from zero.
	End time.Time
}

// guessWindow is the totals of one window (store.GuessWindowKey).
type guessWindow struct {
	Serial  int64 `json:"serial_failures"`
	Sources int64 `json:"sources"`
}

func redeemWindow(now time.Time) (int64, time.Time) {
	w := now.Unix() / int64(RedeemFailureWindow/time.Second)
	return w, time.Unix((w+1)*int64(RedeemFailureWindow/time.Second), 0).UTC()
}

// RedeemFailuresOf returns the failures counted against source, and
// against serial redemption, in the current window.
func (lg *Ledger) RedeemFailuresOf(ctx context.Context, source string) (RedeemFailures, error) {
	var out RedeemFailures
	err := lg.view(func(o *op) error {
		w, end := redeemWindow(o.now)
		out.End = end
		n, err := o.counter(store.GuessSourceKey(w, source))
		if err != nil {
			return err
		}
		out.Source = n
		tot, err := o.guessWindow(w)
		out.Serial = tot.Serial
		return err
	})
	return out, err
}

// RecordRedeemFailure counts a refused online activation of source in the
// current window (serial: of a license serial, which also counts towards
// pausing serial redemption), durably before it returns, and drops up to
// redeemPruneBatch keys of past windows. Writes are bounded per window: a
// tracked source is locked out (and so writes no more) after the API's
// limit, serial failures stop at the pause, and a source the full window
// does not track writes nothing unless it failed a serial.
func (lg *Ledger) RecordRedeemFailure(ctx context.Context, source string, serial bool) error {
	if source == "" || len(source) > MaxRedeemSourceLen {
		return invalid("redeem failure: source address of %d bytes", len(source))
	}
	return lg.update(func(o *op) error {
		w, _ := redeemWindow(o.now)
		if err := o.pruneGuesses(w); err != nil {
			return err
		}
		tot, err := o.guessWindow(w)
		if err != nil {
			return err
		}
		k := store.GuessSourceKey(w, source)
		n, err := o.counter(k)
		if err != nil {
			return err
		}
		tracked := n > 0 || tot.Sources < MaxRedeemSources
		if !tracked && !serial {
			return nil // nothing to count: the window tracks no more addresses
		}
		if tracked {
			if n == 0 {
				tot.Sources++
			}
			if err := o.x.Put(k, []byte(strconv.FormatInt(n+1, 10))); err != nil {
				return err
			}
		}
		if serial {
			tot.Serial++
		}
		return o.x.PutJSON(store.GuessWindowKey(w), &tot)
	})
}

// ClearRedeemFailures forgets every counted failure, lifting all lockouts
// at once: for an operator who has dealt with a guessing attack (or whose
// own site was locked out behind one address), and for tests.
func (lg *Ledger) ClearRedeemFailures(ctx context.Context) error {
	for {
		more := false
		err := lg.update(func(o *op) error {
			n := 0
			for _, p := range [][]byte{store.GuessSourcePrefix(), store.GuessWindowPrefix()} {
				var ks [][]byte
				err := o.x.Scan(p, nil, false, func(k, _ []byte) (bool, error) {
					ks = append(ks, append([]byte(nil), k...))
					return len(ks) < redeemPruneBatch, nil
				})
				if err != nil {
					return err
				}
				for _, k := range ks {
					if err := o.x.Delete(k); err != nil {
						return err
					}
				}
				n += len(ks)
			}
			more = n > 0
			return nil
		})
		if err != nil || !more {
			return err
		}
	}
}

// pruneGuesses deletes up to redeemPruneBatch keys of windows before w:
// they sort first, so the scan stops at the first key of w.
func (o *op) pruneGuesses(w int64) error {
	left := redeemPruneBatch
	for _, p := range [][]byte{store.GuessSourcePrefix(), store.GuessWindowPrefix()} {
		var ks [][]byte
		err := o.x.Scan(p, nil, false, func(k, _ []byte) (bool, error) {
			kw, ok := store.GuessKeyWindow(k)
			if ok && kw >= w {
				return false, nil
			}
			ks = append(ks, append([]byte(nil), k...))
			return len(ks) < left, nil
		})
		if err != nil {
			return err
		}
		for _, k := range ks {
			if err := o.x.Delete(k); err != nil {
				return err
			}
		}
		if left -= len(ks); left == 0 {
			return nil
		}
	}
	return nil
}

func (o *op) guessWindow(w int64) (guessWindow, error) {
	var tot guessWindow
	err := o.x.GetJSON(store.GuessWindowKey(w), &tot)
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return tot, err
}

// counter reads a decimal count (0 when absent).
func (o *op) counter(k []byte) (int64, error) {
	b, err := o.x.Get(k)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s", store.ErrCorrupt, k)
	}
	return n, nil
}
