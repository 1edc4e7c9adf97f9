package runtime

import (
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/gate"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Status is `tollgate-agent status -o json` (docs/api.md lists the fields
// scripts rely on: device_id, blacklisted, tamper, licenses[], budget,
// refused, queue, last_sync).
type Status struct {
	DeviceStatus
	Tamper        bool              `json:"tamper"`
	TamperEvents  int64             `json:"tamper_events"`
	EffectiveTime string            `json:"effective_time"`
	Refused       map[string]int64  `json:"refused"`
	Queue         QueueStatus       `json:"queue"`
	LastSync      *string           `json:"last_sync"`
	Revocation    *RevocationStatus `json:"revocation_list"`
	Children      []DeviceStatus    `json:"children,omitempty"`
	// Upstream is where a running agent sends, when it has somewhere to
	// (absent from the status of a stopped agent's data directory).
	Upstream *UpstreamStatus `json:"upstream,omitempty"`
}

// redactURL hides a password an address may carry: status is read
// through the local API, by whatever on the device may call it.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// UpstreamStatus is the address of each upstream a running agent uses now
// — with several brokers or servers configured, the one it failed over to
// (docs/agent.md, "Several servers and brokers").
type UpstreamStatus struct {
	// Broker is the broker of the MQTT session, or the one it tries next
	// while not Connected.
	Broker    string `json:"broker,omitempty"`
	Connected bool   `json:"connected"`
	// Server is the license server the next sync tries first: the one
	// that answered the last (empty before the first sync).
	Server string `json:"server,omitempty"`
}

// DeviceStatus is the enforcement state of one device.
type DeviceStatus struct {
	DeviceID        string          `json:"device_id"`
	Model           string          `json:"model"`
	Blacklisted     bool            `json:"blacklisted"`
	BlacklistReason string          `json:"blacklist_reason,omitempty"`
	Licenses        []LicenseStatus `json:"licenses"`
	Budget          BudgetStatus    `json:"budget"`
	DeductionSeq    int64           `json:"deduction_seq"`
	// FailedDays counts the deduction records that paid nothing (the
	// device found no day and blacklisted itself); deduction_seq numbers
	// them with the paid ones.
	FailedDays int64 `json:"failed_days"`
	SampleSeq  int64 `json:"sample_seq"`
	// Hourly is the consumption of the last 7 days, oldest first, hours
	// without samples left out (docs/design.md#enforcement-on-the-agent: kept for upload on sync).
	Hourly []HourStatus `json:"hourly"`
}

// HourStatus is one hourly bucket.
type HourStatus struct {
	Hour     string `json:"hour"`
	Accepted int64  `json:"accepted"`
	Overage  int64  `json:"overage"`
}

// LicenseStatus is one license as the agent sees it.
type LicenseStatus struct {
	ID                string `json:"id"`
	Serial            string `json:"serial"`
	Status            string `json:"status"`
	Expires           string `json:"expires"`
	Billing           string `json:"billing"`
	Enforcement       string `json:"enforcement"`
	MaxSamplesPerHour int64  `json:"max_samples_per_hour"`
	// AvailableDays is null for term licenses.
	AvailableDays *int64 `json:"available_days"`
	PaidUntil     string `json:"paid_until,omitempty"`
	Version       int64  `json:"version"`
}

// BudgetStatus is the rolling 24-hour sample budget; limit_24h 0 is unlimited.
type BudgetStatus struct {
	Used24h       int64 `json:"used_24h"`
	Limit24h      int64 `json:"limit_24h"`
	AcceptedTotal int64 `json:"accepted_total"`
	OverageTotal  int64 `json:"overage_total"`
}

// QueueStatus is the outbox.
type QueueStatus struct {
	Depth   int64 `json:"depth"`
	Dropped int64 `json:"dropped"`
	Max     int64 `json:"max"`
}

// RevocationStatus describes the revocation list held.
type RevocationStatus struct {
	Seq      int64  `json:"seq"`
	IssuedAt string `json:"issued_at"`
}

// Status reports the agent's state now.
func (a *Agent) Status() Status {
	eff, tamper := a.clk.Now()
	rev := a.gate.Revocation()
	s := Status{
		Tamper:        tamper,
		TamperEvents:  a.clk.TamperEvents(),
		EffectiveTime: time.Unix(0, eff).UTC().Format(time.RFC3339),
		Refused:       a.refusedTotals(),
		Queue:         QueueStatus{Max: int64(a.cfg.QueueMax)},
	}
	if at, ok := a.LastSync(); ok {
		ls := at.Format(time.RFC3339)
		s.LastSync = &ls
	}
	if rev != nil {
		s.Revocation = &RevocationStatus{Seq: rev.Seq, IssuedAt: unixRFC(rev.IssuedAt)}
	}
	var up UpstreamStatus
	if r := a.current(); r != nil {
		s.Queue = QueueStatus{Depth: r.ob.Depth(), Dropped: r.ob.Dropped(), Max: r.ob.Max()}
		if r.pub != nil {
			up.Broker, up.Connected = redactURL(r.pub.Broker()), r.pub.Connected()
		}
	} else {
		s.Queue.Depth, s.Queue.Dropped = a.storedQueue()
	}
	a.synm.Lock()
	if a.sync != nil {
		up.Server = redactURL(a.sync.Server())
	}
	a.synm.Unlock()
	if up != (UpstreamStatus{}) {
		s.Upstream = &up
	}
	for _, d := range a.gate.Devices() {
		ds := deviceStatus(a.gate, d, rev, eff)
		if d.ID == a.id.DeviceID {
			s.DeviceStatus = ds
		} else {
			s.Children = append(s.Children, ds)
		}
	}
	return s
}

func deviceStatus(g *gate.Gate, d *gate.Device, rev *token.RevocationList, eff int64) DeviceStatus {
	ds := DeviceStatus{DeviceID: d.ID, Model: d.Model, Licenses: []LicenseStatus{},
		DeductionSeq: d.DeductionSeq(), FailedDays: d.FailedDays(), SampleSeq: d.SampleSeq.Load()}
	ds.Blacklisted, ds.BlacklistReason = d.SelfBlacklisted()
	// The device's own reason names the cause; the server blacklists a
	// device that ran out of days too, once its failed day synced.
	if !ds.Blacklisted && rev != nil && rev.DeviceBlacklisted(d.ID) {
		ds.Blacklisted, ds.BlacklistReason = true, "blacklisted by the server"
	}
	effSec := eff / int64(time.Second)
	for _, l := range d.Licenses() {
		t := l.Tok
		ls := LicenseStatus{ID: t.LicenseID, Serial: t.Serial, Expires: unixRFC(t.NotAfter),
			Billing: t.Billing, Enforcement: t.Enforcement, MaxSamplesPerHour: t.MaxSamplesPerHour, Version: t.Version}
		ls.Status = "active"
		if r := g.Check(d, l, effSec); r != gate.OK {
			ls.Status = r.String()
		}
		if t.Billing == token.BillingDays {
			avail, paid := d.Days(l)
			ls.AvailableDays = &avail
			if paid > 0 {
				ls.PaidUntil = time.Unix(0, paid).UTC().Format(time.RFC3339)
			}
			if avail <= 0 && eff >= paid && ls.Status == "active" {
				ls.Status = gate.NoDays.String()
			}
		}
		if ls.Status == "active" && ds.Budget.Limit24h == 0 {
			ds.Budget.Limit24h = t.MaxSamplesPerHour * limits.BudgetWindowHours
		}
		ds.Licenses = append(ds.Licenses, ls)
	}
	hour := eff / int64(time.Hour)
	used, totals := d.Usage(hour)
	ds.Budget.Used24h, ds.Budget.AcceptedTotal, ds.Budget.OverageTotal = used, totals.Accepted, totals.Overage
	hours := d.Hours(hour)
	ds.Hourly = make([]HourStatus, 0, len(hours))
	for _, h := range slices.Sorted(maps.Keys(hours)) {
		b := hours[h]
		ds.Hourly = append(ds.Hourly, HourStatus{Hour: unixRFC(h * 3600), Accepted: b.Accepted, Overage: b.Overage})
	}
	return ds
}

func unixRFC(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }
