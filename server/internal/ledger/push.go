package ledger

import (
	"context"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// docs/design.md#sync: the server pushes revocations and token updates over MQTT to
// online agents as signed messages. Every new token version (bind, top-up,
// renewal, resume, deduction, capacity start, hand-off …) is signed in
// issueToken; it records the device in the change's Enforcement.Tokens, and
// after the commit the Enforcer asks PushDocument for what to send. The
// document is built when it is sent, not when the change commits, so a
// burst of changes to one device can be sent once, with the newest tokens.

// tokenIssued records that d got a new token version in this change. A
// gateway's child runs no agent: its gateway enforces for it and is the one
// pushed to (its push carries its children's tokens).
func (o *op) tokenIssued(d *Device) {
	if d.GatewayID != "" {
		if gw, err := o.device(d.GatewayID); err == nil {
			d = gw
		}
	}
	ref := DeviceRef{DeviceID: d.ID, CustomerID: d.CustomerID}
	if !containsRef(o.enf.Tokens, ref) {
		o.enf.Tokens = append(o.enf.Tokens, ref)
	}
}

// PushDocument is a signed push for one device.
type PushDocument struct {
	// CustomerID owns the device now: its control topic is under it.
	CustomerID string
	// Text is a syncproto.Response signed by the active key (kind sys).
	Text string
	// Tokens is how many license tokens it carries.
	Tokens int
}

// PushDocument builds and signs the push for a device: a sync answer with
// an empty nonce (docs/sync.md) carrying the current token of every
// license bound to the device, then to each of its child devices (a
// gateway enforces for them; at most MaxSyncTokens in all), and the
// current signed revocation list. It
// acknowledges nothing (acked_seq 0, no missing ranges): records are acked
// by sync alone. The agent applies it exactly as a sync answer, so an older
// token version or list inside is skipped there.
func (lg *Ledger) PushDocument(ctx context.Context, deviceID string) (*PushDocument, error) {
	r := &syncproto.Response{DeviceID: deviceID, Missing: []syncproto.SeqRange{}, Tokens: []string{}}
	var customerID string
	err := lg.view(func(o *op) error {
		d, err := o.device(deviceID)
		if err != nil {
			return err
		}
		customerID = d.CustomerID
		r.ServerTime = o.now.Unix()
		if err := o.pushTokens(deviceID, r); err != nil {
			return err
		}
		err = o.x.Scan(store.GatewayChildPrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
			return len(r.Tokens) < MaxSyncTokens, o.pushTokens(store.LastPart(k), r)
		})
		if err != nil {
			return err
		}
		r.RevocationList, err = o.revocationText(deviceID)
		return err
	})
	if err != nil {
		return nil, err
	}
	text, err := lg.SignSyncResponse(r)
	if err != nil {
		return nil, err
	}
	return &PushDocument{CustomerID: customerID, Text: text, Tokens: len(r.Tokens)}, nil
}

// pushTokens appends the current tokens of the licenses bound to a device,
// up to MaxSyncTokens in r.
func (o *op) pushTokens(deviceID string, r *syncproto.Response) error {
	if len(r.Tokens) >= MaxSyncTokens {
		return nil
	}
	return o.x.Scan(store.LicenseByDevicePrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
		t, err := o.currentToken(store.LastPart(k))
		if err != nil || t == nil {
			return err == nil, err
		}
		r.Tokens = append(r.Tokens, t.Token)
		return len(r.Tokens) < MaxSyncTokens, nil
	})
}
