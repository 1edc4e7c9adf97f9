package ledger

import "strconv"

// NoticeDeductionFailed tells a device's owner (and the customer above
// it) that the device could not pay a day: no license bound to it had a
// day left, so it blacklisted itself and sends nothing until days are
// added and the blacklist cleared.
const NoticeDeductionFailed = "deduction_failed"

// noticeFailedDay writes the notice of d's failed day rec, once per
// (device, deduction seq): a fork that fails the same seq again makes none.
func (o *op) noticeFailedDay(d *Device, rec *Deduction) error {
	n := &Notice{ID: noticeID("device:"+d.ID+"#"+strconv.FormatInt(rec.Seq, 10), NoticeDeductionFailed, rec.At),
		CustomerID: d.CustomerID, DeviceID: d.ID, Kind: NoticeDeductionFailed, End: rec.At, DueAt: o.now, IssuedAt: o.now}
	_, err := o.putNotice(n)
	return err
}

// NoticeWebhookDisabled tells a customer (and the customer above it) by
// e-mail that one of its webhook endpoints was disabled for failing for
// days — its owner may have no other endpoint to hear webhook.disabled on.
const NoticeWebhookDisabled = "webhook_disabled"

// noticeWebhookDisabled writes the notice of w's disabling, once per
// endpoint.
func (o *op) noticeWebhookDisabled(w *Webhook) error {
	n := &Notice{ID: noticeID("webhook:"+w.ID, NoticeWebhookDisabled, w.DisabledAt), CustomerID: w.CustomerID,
		Kind: NoticeWebhookDisabled, End: w.DisabledAt, DueAt: o.now, IssuedAt: o.now, Subject: w.URL}
	_, err := o.putNotice(n)
	return err
}
