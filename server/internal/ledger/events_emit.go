package ledger

import (
	"strconv"
	"time"
)

// The calls that put facts into the outbox, one per place a fact arises
// (lifecycle.go, moves.go, devices.go, deductions.go, sync*.go,
// licensehistory.go). Each names what tells this occurrence from another,
// so the event id is stable.

// LicenseEventData is the data of a license.* event.
type LicenseEventData struct {
	LicenseID  string `json:"license_id"`
	Serial     string `json:"serial"`
	CustomerID string `json:"customer_id"`
	DeviceID   string `json:"device_id,omitempty"`
	Status     Status `json:"status"`
	// NewLicenseID and ToCustomerID name the other side of a transfer.
	NewLicenseID string `json:"new_license_id,omitempty"`
	ToCustomerID string `json:"to_customer_id,omitempty"`
	// PeriodStart and PeriodEnd are a renewal's new period.
	PeriodStart string `json:"period_start,omitempty"`
	PeriodEnd   string `json:"period_end,omitempty"`
}

// DeviceEventData is the data of a device.*, deduction.* and sync.* event.
type DeviceEventData struct {
	DeviceID   string `json:"device_id"`
	CustomerID string `json:"customer_id"`
	Reason     string `json:"reason,omitempty"`
	Seq        int64  `json:"seq,omitempty"`
	LicenseID  string `json:"license_id,omitempty"`
}

func (o *op) licenseData(l *License) LicenseEventData {
	return LicenseEventData{LicenseID: l.ID, Serial: l.Serial, CustomerID: l.CustomerID, DeviceID: l.DeviceID, Status: l.Status(o.now)}
}

// emitLicense records a license event of l's owner; occurrence tells
// this one from others of the same type about l.
func (o *op) emitLicense(kind string, l *License, occurrence string) error {
	return o.emit(kind, l.ID, occurrence, o.licenseData(l), l.CustomerID)
}

// emitTransfer records the transfer of l to n, heard by both owners'
// chains.
func (o *op) emitTransfer(l, n *License) error {
	data := o.licenseData(l)
	data.NewLicenseID, data.ToCustomerID = n.ID, n.CustomerID
	return o.emit(EventLicenseTransferred, l.ID, "", data, l.CustomerID, n.CustomerID)
}

// emitRenewal records one new period of l.
func (o *op) emitRenewal(l *License, start, end string) error {
	data := o.licenseData(l)
	data.PeriodStart, data.PeriodEnd = start, end
	return o.emit(EventLicenseRenewed, l.ID, start, data, l.CustomerID)
}

// emitBlacklist records a device put on or taken off the blacklist (only
// when that changed), told apart by the instant.
func (o *op) emitBlacklist(d *Device, on bool) error {
	kind := EventDeviceUnblacklisted
	if on {
		kind = EventDeviceBlacklisted
	}
	return o.emit(kind, d.ID, strconv.FormatInt(o.now.Unix(), 10),
		DeviceEventData{DeviceID: d.ID, CustomerID: d.CustomerID, Reason: d.BlacklistReason}, d.CustomerID)
}

// emitDeduction records a device event about one deduction record (its
// seq, and the fork digest of a forked record).
func (o *op) emitDeduction(kind string, d *Device, rec *Deduction) error {
	return o.emit(kind, d.ID, strconv.FormatInt(rec.Seq, 10)+"/"+rec.Fork,
		DeviceEventData{DeviceID: d.ID, CustomerID: d.CustomerID, Seq: rec.Seq, LicenseID: rec.LicenseID}, d.CustomerID)
}

// NoticeEventData is the data of a license.expiring or license.expired
// event: the license and the notice it comes from.
type NoticeEventData struct {
	LicenseEventData
	NoticeID   string `json:"notice_id"`
	NoticeKind string `json:"notice_kind"`
	End        string `json:"end"`
}

// emitNotice records the webhook event of a notice just issued: ended
// and the renewal reminder are license.expired, every warning before the
// end license.expiring. The notice id tells occurrences apart.
func (o *op) emitNotice(n *Notice, l *License) error {
	kind := EventLicenseExpiring
	if n.Kind == NoticeEnded || n.Kind == NoticeReminder {
		kind = EventLicenseExpired
	}
	data := NoticeEventData{LicenseEventData: o.licenseData(l), NoticeID: n.ID, NoticeKind: n.Kind, End: n.End.Format(time.RFC3339)}
	return o.emit(kind, l.ID, n.ID, data, n.CustomerID)
}

// MonthlyReportEventData is the data of a report.monthly event: which
// report is ready and where to fetch it.
type MonthlyReportEventData struct {
	NoticeID   string `json:"notice_id"`
	CustomerID string `json:"customer_id"`
	Month      string `json:"month"`
	// Path is the API request that returns the report (add format=csv for CSV).
	Path string `json:"path"`
}

// emitMonthly tells the customer's webhooks (and its superiors') that its
// monthly report is ready.
func (o *op) emitMonthly(n *Notice) error {
	month := n.End.UTC().Format(monthLayout)
	data := MonthlyReportEventData{NoticeID: n.ID, CustomerID: n.CustomerID, Month: month,
		Path: "/v1/reports/consumption?customer=" + n.CustomerID + "&month=" + month}
	return o.emit(EventReportMonthly, "customer:"+n.CustomerID, n.ID, data, n.CustomerID)
}
