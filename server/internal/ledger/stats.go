package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// StatsMaxListed caps the licenses Stats lists with fewer than
// StatsDaysWindow days left; the counts are always complete.
const StatsMaxListed = wire.StatsMaxListed

// Stats are the figures of a customer's subtree at one instant
// (docs/reports.md#statistics).
type Stats struct {
	CustomerID string
	At         time.Time
	ByType     map[string]int64
	ByBilling  map[string]int64
	ByStatus   map[Status]int64
	Kinds      []KindStats
	// DaysLeft30 and DaysLeft7 count the licenses with fewer than
	// StatsDaysWindow and StatsDaysShort days left.
	DaysLeft30, DaysLeft7 int64
	// Expiring lists those licenses, soonest end first, at most
	// StatsMaxListed; ExpiringTruncated says some were left out.
	Expiring           []ExpiringLicense
	ExpiringTruncated  bool
	DevicesBlacklisted int64
	// DevicesOffline counts the devices not synced for longer than their
	// max_offline (stats_offline.go).
	DevicesOffline int64
}

// KindStats counts the licenses of one kind by status.
type KindStats struct {
	Type, Billing     string
	Models            []string
	MaxSamplesPerHour int64
	ByStatus          map[Status]int64
	Total             int64
}

// ExpiringLicense is a license with few days left: a term license's whole
// days to its end, a day license's available days and its projected end.
type ExpiringLicense struct {
	ID, Serial, CustomerID string
	Billing                string
	DaysLeft               int64
	End                    time.Time
}

// Stats returns the figures of customerID's subtree ("" for the actor's
// own customer), from the counters and the ordered indexes only.
func (lg *Ledger) Stats(ctx context.Context, a Actor, customerID string) (*Stats, error) {
	var out *Stats
	err := lg.view(func(o *op) error {
		id := customerID
		if id == "" {
			id = a.CustomerID
		}
		if id == "" {
			id = lg.RootID()
		}
		if _, err := o.visibleCustomer(a, id); err != nil {
			return err
		}
		ids, err := o.subtree(id)
		if err != nil {
			return err
		}
		s := statsReader{o: o, now: o.now.UnixNano(), kinds: map[string]map[Status]int64{}}
		for _, c := range ids {
			if err := s.customer(c); err != nil {
				return err
			}
		}
		out = s.result(id)
		return nil
	})
	return out, err
}

type statsReader struct {
	o          *op
	now        int64
	kinds      map[string]map[Status]int64
	expiring   []ExpiringLicense
	d30, d7    int64
	blacklists int64
	offline    int64
}

func (s *statsReader) customer(c string) error {
	x := s.o.x
	err := x.Scan(store.StatsKindPrefix(c), nil, true, func(k, v []byte) (bool, error) {
		n, err := decodeCounter(v)
		if err != nil {
			return false, err
		}
		s.add(store.KeyPart(k, 2), Status(store.KeyPart(k, 3)), n)
		return true, nil
	})
	if err != nil {
		return err
	}
	window := s.now + int64(StatsDaysWindow*Day)
	limit := store.StatsEndKey(c, window, "")
	err = x.Scan(store.StatsEndPrefix(c), nil, true, func(k, v []byte) (bool, error) {
		if bytes.Compare(k, limit) >= 0 {
			return false, nil
		}
		return true, s.end(c, k, v)
	})
	if err != nil {
		return err
	}
	err = x.Scan(store.StatsDaysPrefix(c), nil, true, func(k, v []byte) (bool, error) {
		return true, s.days(c, k, v)
	})
	if err != nil {
		return err
	}
	err = x.Scan(store.StatsOfflinePrefix(c), nil, false, func(k, _ []byte) (bool, error) {
		at, err := keyNum(store.KeyPart(k, 2))
		if err != nil || at >= s.now {
			return false, err
		}
		s.offline++
		return true, nil
	})
	if err != nil {
		return err
	}
	n, err := s.o.statsCounter(store.StatsBlacklistKey(c))
	s.blacklists += n
	return err
}

func (s *statsReader) add(kind string, st Status, n int64) {
	m := s.kinds[kind]
	if m == nil {
		m = map[Status]int64{}
		s.kinds[kind] = m
	}
	m[st] += n
}

// end reads one expiry index entry: expired by now, or a term license
// ending within the window.
func (s *statsReader) end(c string, k, v []byte) error {
	at, err := keyNum(store.KeyPart(k, 2))
	if err != nil {
		return err
	}
	f := strings.SplitN(string(v), "|", 3)
	if len(f) != 3 {
		return errStatsKey
	}
	kind, pre, serial := f[0], Status(f[1]), f[2]
	if at <= s.now {
		s.add(kind, pre, -1)
		s.add(kind, StatusExpired, +1)
		return nil
	}
	if _, billing, _, _, err := parseStatsKind(kind); err != nil || billing != token.BillingTerm {
		return err // a day license's days left come from its days
	}
	s.list(ExpiringLicense{ID: store.LastPart(k), Serial: serial, CustomerID: c, Billing: token.BillingTerm,
		DaysLeft: (at - s.now) / int64(Day), End: time.Unix(0, at).UTC()})
	return nil
}

// days reads one day-license entry: its available days, unless expired.
func (s *statsReader) days(c string, k, v []byte) error {
	avail, err := keyNum(store.KeyPart(k, 2))
	if err != nil {
		return err
	}
	i := bytes.IndexByte(v, '|')
	if i < 0 {
		return errStatsKey
	}
	paid, n := binary.Varint(v[i+1:])
	if n <= 0 {
		return errStatsKey
	}
	if avail <= 0 && paid <= s.now {
		return nil // expired
	}
	s.list(ExpiringLicense{ID: store.LastPart(k), Serial: string(v[:i]), CustomerID: c, Billing: token.BillingDays,
		DaysLeft: avail, End: time.Unix(0, max(paid, s.now)).UTC().Add(time.Duration(avail) * Day)})
	return nil
}

func (s *statsReader) list(e ExpiringLicense) {
	s.d30++
	if e.DaysLeft < StatsDaysShort {
		s.d7++
	}
	s.expiring = append(s.expiring, e)
}

func (s *statsReader) result(id string) *Stats {
	out := &Stats{CustomerID: id, At: time.Unix(0, s.now).UTC(), ByType: map[string]int64{}, ByBilling: map[string]int64{},
		ByStatus: map[Status]int64{}, DaysLeft30: s.d30, DaysLeft7: s.d7, DevicesBlacklisted: s.blacklists, DevicesOffline: s.offline,
		Kinds: []KindStats{}}
	for _, kind := range slices.Sorted(maps.Keys(s.kinds)) {
		typ, billing, rate, models, err := parseStatsKind(kind)
		if err != nil {
			continue
		}
		ks := KindStats{Type: typ, Billing: billing, Models: models, MaxSamplesPerHour: rate, ByStatus: map[Status]int64{}}
		for st, n := range s.kinds[kind] {
			if n == 0 {
				continue
			}
			ks.ByStatus[st] += n
			ks.Total += n
			out.ByStatus[st] += n
		}
		if ks.Total == 0 {
			continue
		}
		out.ByType[typ] += ks.Total
		out.ByBilling[billing] += ks.Total
		out.Kinds = append(out.Kinds, ks)
	}
	slices.SortFunc(s.expiring, func(a, b ExpiringLicense) int {
		if c := a.End.Compare(b.End); c != 0 {
			return c
		}
		return strings.Compare(a.Serial, b.Serial)
	})
	if len(s.expiring) > StatsMaxListed {
		s.expiring, out.ExpiringTruncated = s.expiring[:StatsMaxListed], true
	}
	out.Expiring = s.expiring
	if out.Expiring == nil {
		out.Expiring = []ExpiringLicense{}
	}
	return out
}

// keyNum parses a zero-padded number part of a statistics key.
func keyNum(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errStatsKey
	}
	return n, nil
}
