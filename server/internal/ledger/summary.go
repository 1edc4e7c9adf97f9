package ledger

import (
	"encoding/binary"
	"time"

	"github.com/tollgate-iot/tollgate/shared/token"
)

// A license's index entries (by customer, by device) carry a summary of the
// fields its status derives from, so that a filtered listing decides on
// the index alone and reads full records only for the licenses it returns.

// summaryVersion 2 added the second flag byte (capacity licenses); entries
// of version 1 are not decoded, so their licenses are read in full.
const summaryVersion = 2

const (
	sumTrial = 1 << iota
	sumDays
	sumRenew
	sumSuspended
	sumRevoked
	sumTransferred
	sumBound
	sumActivated
)

// Flags of the second byte.
const (
	sumCapacity = 1 << iota // waits for children before it starts
)

// summary encodes what Status and endsWithin read.
func (l *License) summary() []byte {
	var f byte
	for bit, on := range map[byte]bool{sumTrial: l.Type == token.TypeTrial, sumDays: l.Billing == token.BillingDays,
		sumRenew: l.Renew, sumSuspended: l.Suspended, sumRevoked: l.Revoked, sumTransferred: l.TransferredTo != "",
		sumBound: l.DeviceID != "", sumActivated: !l.ActivatedAt.IsZero()} {
		if on {
			f |= bit
		}
	}
	var f2 byte
	if l.StartAtChildren > 0 {
		f2 |= sumCapacity
	}
	b := make([]byte, 3, 3+4*binary.MaxVarintLen64)
	b[0], b[1], b[2] = summaryVersion, f, f2
	for _, v := range []int64{unixOrZero(l.End), unixOrZero(l.PaidUntil), unixOrZero(l.NoRenewFrom), l.AvailableDays} {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return unixTime(s)
}

// skeleton decodes a summary into a License with exactly the fields Status
// and endsWithin read; ok is false for a missing or unknown summary.
func skeleton(b []byte) (l License, ok bool) {
	if len(b) < 3 || b[0] != summaryVersion {
		return l, false
	}
	f, f2 := b[1], b[2]
	var v [4]int64
	rest := b[3:]
	for i := range v {
		n, k := binary.Varint(rest)
		if k <= 0 {
			return l, false
		}
		v[i], rest = n, rest[k:]
	}
	l.Type, l.Billing = token.TypeStandard, token.BillingTerm
	if f&sumTrial != 0 {
		l.Type = token.TypeTrial
	}
	if f&sumDays != 0 {
		l.Billing = token.BillingDays
	}
	l.Renew, l.Suspended, l.Revoked = f&sumRenew != 0, f&sumSuspended != 0, f&sumRevoked != 0
	if f&sumTransferred != 0 {
		l.TransferredTo = "?"
	}
	if f&sumBound != 0 {
		l.DeviceID = "?"
	}
	if f&sumActivated != 0 {
		l.ActivatedAt = unixTime(1)
	}
	if f2&sumCapacity != 0 {
		l.StartAtChildren = 1
	}
	l.End, l.PaidUntil, l.NoRenewFrom, l.AvailableDays = timeOrZero(v[0]), timeOrZero(v[1]), timeOrZero(v[2]), v[3]
	return l, true
}
