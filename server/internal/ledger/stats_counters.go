package ledger

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Statistics counters (docs/reports.md#statistics). Every license adds one
// to the counter of its owner, its kind and its status as it would be
// without expiry (statusBeforeExpiry); a license that expires at a known
// instant unless changed again is also indexed by that instant, so that a
// reader at now moves the licenses whose instant has passed from their
// counter to "expired" by reading that range only. A day license with
// fewer than StatsDaysWindow available days is indexed by its days. Every
// figure is a pure function of the stored license, so putLicense keeps it
// exact by taking the before-image's part out and putting the new one in,
// in the same transaction. A term license the scheduler has recorded as
// expired counts as expired outright, so the index holds only what may
// still expire, or has expired since its last write.

// StatsDaysWindow is the widest days-left bucket (days): licenses with
// fewer days left are listed; StatsDaysShort is the narrower bucket.
const (
	StatsDaysWindow = 30
	StatsDaysShort  = 7
)

// statsVersion is the version of the counters' layout; a ledger whose
// StatsVersionKey differs rebuilds them when it opens.
const statsVersion = "1"

// statsPart is what one license contributes to the statistics keys.
type statsPart struct {
	customer, id, serial string
	kind                 string
	status               Status // without expiry (unless recorded)
	ends                 bool   // expires at endAt unless changed
	endAt                int64  // Unix nanoseconds; 0 for "already"
	days                 bool   // indexed by available days
	available            int64
	paidUntil            int64 // Unix nanoseconds, 0 if never paid
}

// statsKind encodes a license's kind: type, billing, rate and model range.
// The models are sorted at creation; none contains ',' or '+'.
func statsKind(l *License) string {
	return l.Type + "," + l.Billing + "," + strconv.FormatInt(l.MaxSamplesPerHour, 10) + "," + strings.Join(l.Models, "+")
}

// parseStatsKind reverses statsKind.
func parseStatsKind(k string) (typ, billing string, rate int64, models []string, err error) {
	f := strings.SplitN(k, ",", 4)
	if len(f) != 4 {
		return "", "", 0, nil, errStatsKey
	}
	rate, err = strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return "", "", 0, nil, errStatsKey
	}
	return f[0], f[1], rate, strings.Split(f[3], "+"), nil
}

// errStatsKey reports a statistics key or value the ledger did not write.
var errStatsKey = errors.New("ledger: malformed statistics entry")

func nanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// statusBeforeExpiry is Status(now) for a now at which l has not expired:
// the one copy of the status rules but expiry.
func (l *License) statusBeforeExpiry() Status {
	switch {
	case l.TransferredTo != "":
		return StatusTransferred
	case l.Revoked:
		return StatusRevoked
	case l.Suspended:
		return StatusSuspended
	}
	bound, activated := l.DeviceID != "", !l.ActivatedAt.IsZero()
	switch {
	case bound && activated:
		return StatusActive
	case bound && l.StartAtChildren > 0:
		return StatusPendingStart
	case bound:
		return StatusInactive
	case activated:
		return StatusDeactivated
	}
	return StatusUnused
}

// expiresAt is the instant from which l.expired(now) holds, if any: what
// expired reads, without now.
func (l *License) expiresAt() (time.Time, bool) {
	switch {
	case l.terminal():
		return time.Time{}, false
	case l.Billing == token.BillingDays:
		return l.PaidUntil, l.AvailableDays <= 0
	case l.Type == token.TypeTrial:
		return l.End, !l.End.IsZero()
	case l.End.IsZero():
		return time.Time{}, false
	}
	return l.End, !l.renewsAt(l.End)
}

func statsOf(l *License) statsPart {
	p := statsPart{customer: l.CustomerID, id: l.ID, serial: l.Serial, kind: statsKind(l), status: l.statusBeforeExpiry()}
	switch at, ok := l.expiresAt(); {
	case ok && l.ExpiryRecorded:
		// The scheduler wrote it at or after at: expired from then on,
		// counted so directly and kept out of the index.
		p.status = StatusExpired
	case ok:
		p.ends, p.endAt = true, nanosOrZero(at)
	}
	if l.Billing == token.BillingDays && !l.terminal() && l.AvailableDays < StatsDaysWindow {
		p.days, p.available, p.paidUntil = true, max(l.AvailableDays, 0), nanosOrZero(l.PaidUntil)
	}
	return p
}

// putStats moves l's contribution from what before contributed (nil: a new
// license, or a deleted one when l is nil).
func (o *op) putStats(before, l *License) error {
	var was, is statsPart
	if before != nil && before.ID != "" {
		was = statsOf(before)
	}
	if l != nil {
		is = statsOf(l)
	}
	if was == is {
		return nil
	}
	if was.customer != "" {
		if err := o.statsApply(was, -1); err != nil {
			return err
		}
	}
	if is.customer != "" {
		return o.statsApply(is, +1)
	}
	return nil
}

// statsApply adds (delta +1) or removes (-1) one license's part.
func (o *op) statsApply(p statsPart, delta int64) error {
	if err := o.addCounter(store.StatsKindKey(p.customer, p.kind, string(p.status)), delta); err != nil {
		return err
	}
	if p.ends {
		k := store.StatsEndKey(p.customer, p.endAt, p.id)
		if delta < 0 {
			if err := o.x.Delete(k); err != nil {
				return err
			}
		} else if err := o.x.Put(k, []byte(p.kind+"|"+string(p.status)+"|"+p.serial)); err != nil {
			return err
		}
	}
	if p.days {
		k := store.StatsDaysKey(p.customer, p.available, p.id)
		if delta < 0 {
			return o.x.Delete(k)
		}
		return o.x.Put(k, binary.AppendVarint([]byte(p.serial+"|"), p.paidUntil))
	}
	return nil
}

// addCounter adds delta to the int64 counter at k, deleting it at zero.
func (o *op) addCounter(k []byte, delta int64) error {
	n, err := o.statsCounter(k)
	if err != nil {
		return err
	}
	n += delta
	if n == 0 {
		return o.x.Delete(k)
	}
	return o.x.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// statsCounter reads the int64 counter at k (0 if absent).
func (o *op) statsCounter(k []byte) (int64, error) {
	b, err := o.x.Get(k)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return decodeCounter(b)
}

func decodeCounter(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, errStatsKey
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// putDeviceStats keeps the blacklisted-devices counter in step with a
// device's change of blacklisting.
func (o *op) putDeviceStats(before, d *Device) error {
	switch {
	case before.Blacklisted == d.Blacklisted:
		return nil
	case d.Blacklisted:
		return o.addCounter(store.StatsBlacklistKey(d.CustomerID), +1)
	}
	return o.addCounter(store.StatsBlacklistKey(d.CustomerID), -1)
}
