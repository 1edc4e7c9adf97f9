package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// A revocation list names revoked, suspended and superseded licenses and
// blacklisted devices. One list for everybody would tell every device (and
// every API key) about every customer's revocations, and would cap the
// whole fleet at what one list can carry. So each device gets its own
// list, signed for it on demand (sync answer, push, activation key): it
// names the device, and for a gateway its children, if blacklisted, and
// the licenses of which its agent may hold a token — those bound to it or
// its children now, and those it was given a token of that is still within
// its window (store.HeldTokenKey), which is how a license taken away still
// reaches the device that holds the old token.
//
// What the lists say changes only with a write that marks or clears an
// entry (rlDirty): it advances the global head, whose seq, issued_at and
// next_update every list carries. Entries are judged at the head's
// issued_at, not at signing time, so two lists for one device at one seq
// agree and the agent's "same seq, same content" rule holds.

// RevocationHead is the global state every device's list is signed from:
// the sequence, which grows with every change to any entry, and the times
// of its last change.
type RevocationHead struct {
	Seq        int64     `json:"seq"`
	IssuedAt   time.Time `json:"issued_at"`
	NextUpdate time.Time `json:"next_update"`
}

// heldToken is the stored form of a HeldTokenKey.
type heldToken struct {
	// DeviceID is the device the token names (the holder or its child).
	DeviceID string `json:"device_id"`
	// Until is no earlier than the not_after of the latest token given, in
	// Unix seconds.
	Until int64 `json:"until"`
}

// advanceRevocationHead starts a new sequence: every list signed from now
// on carries it. It replaces the stored head in the transaction.
func (o *op) advanceRevocationHead() (*RevocationHead, error) {
	var prev RevocationHead
	if err := o.x.GetJSON(store.RevocationListKey(), &prev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	h := &RevocationHead{Seq: prev.Seq + 1, IssuedAt: unixTime(o.now.Unix()), NextUpdate: unixTime(o.now.Add(o.lg.rlLife).Unix())}
	o.rlDirty = false
	o.actions = append(o.actions, "revocation_list.advance")
	o.enf.RevocationSeq = h.Seq
	return h, o.x.PutJSON(store.RevocationListKey(), h)
}

// pruneRevocationMarkers deletes superseded and held-token records whose
// tokens have all ended by now, at most MaxRevocationPrune of each per
// call (the rest go at the next). Only a change that also advances the
// head may call it: a list at an older head would still name them.
func (o *op) pruneRevocationMarkers() error {
	for _, p := range []struct {
		prefix []byte
		until  func(v []byte) (int64, error)
	}{
		{store.SupersededPrefix(), func(v []byte) (int64, error) {
			var s superseded
			err := jsonUnmarshal(v, &s)
			return s.Until, err
		}},
		{store.HeldTokenAllPrefix(), func(v []byte) (int64, error) {
			var h heldToken
			err := jsonUnmarshal(v, &h)
			return h.Until, err
		}},
	} {
		var stale [][]byte
		err := o.x.Scan(p.prefix, nil, true, func(k, v []byte) (bool, error) {
			until, err := p.until(v)
			if err != nil {
				return false, err
			}
			if until <= o.now.Unix() {
				stale = append(stale, append([]byte(nil), k...))
			}
			return len(stale) < MaxRevocationPrune, nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := o.x.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// revocationHead returns the stored head, nil before the first one.
func (o *op) revocationHead() (*RevocationHead, error) {
	var h RevocationHead
	err := o.x.GetJSON(store.RevocationListKey(), &h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// recordHeld notes that the agent enforcing for d was given a token of
// licenseID valid until notAfter. A gateway's child runs no agent: its
// gateway holds the token. The stored until runs heldTokenSlack past the
// token so that day tokens, re-signed at every sync, rewrite it rarely.
func (o *op) recordHeld(d *Device, licenseID string, notAfter int64) error {
	holder := d.ID
	if d.GatewayID != "" {
		holder = d.GatewayID
	}
	k := store.HeldTokenKey(holder, licenseID)
	var h heldToken
	switch err := o.x.GetJSON(k, &h); {
	case err == nil && h.DeviceID == d.ID && h.Until >= notAfter:
		return nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	return o.x.PutJSON(k, &heldToken{DeviceID: d.ID, Until: max(h.Until, notAfter+int64(heldTokenSlack/time.Second))})
}

// scope collects the ids a device's list may name.
type scope struct {
	licenses map[string]struct{}
	devices  map[string]struct{}
}

// revocationScope returns the licenses and devices the agent of deviceID
// enforces for or may hold a token of, as of at (Unix seconds): the
// device, its children, the licenses bound to them, and those it holds a
// token of within its window.
func (o *op) revocationScope(deviceID string, at int64) (*scope, error) {
	s := &scope{licenses: map[string]struct{}{}, devices: map[string]struct{}{deviceID: {}}}
	err := o.x.Scan(store.HeldTokenPrefix(deviceID), nil, true, func(k, v []byte) (bool, error) {
		var h heldToken
		if err := jsonUnmarshal(v, &h); err != nil {
			return false, err
		}
		if h.Until > at {
			s.licenses[store.LastPart(k)] = struct{}{}
			s.devices[h.DeviceID] = struct{}{}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	bound := func(dev string) error {
		return o.x.Scan(store.LicenseByDevicePrefix(dev), nil, false, func(k, _ []byte) (bool, error) {
			s.licenses[store.LastPart(k)] = struct{}{}
			return true, nil
		})
	}
	if err := bound(deviceID); err != nil {
		return nil, err
	}
	err = o.x.Scan(store.GatewayChildPrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
		child := store.LastPart(k)
		s.devices[child] = struct{}{}
		return true, bound(child)
	})
	return s, err
}

// deviceRevocationList builds the list for deviceID from the head h: the
// entries of its scope, judged at h's issued_at.
func (o *op) deviceRevocationList(deviceID string, h *RevocationHead) (*token.RevocationList, error) {
	at := h.IssuedAt.Unix()
	s, err := o.revocationScope(deviceID, at)
	if err != nil {
		return nil, err
	}
	r := &token.RevocationList{DeviceID: deviceID, Seq: h.Seq, IssuedAt: at, NextUpdate: h.NextUpdate.Unix(),
		RevokedLicenses: []string{}, SuspendedLicenses: []string{}, BlacklistedDevices: []string{}, SupersededLicenses: []string{}}
	for id := range s.licenses {
		if err := o.licenseEntries(id, at, r); err != nil {
			return nil, err
		}
	}
	for id := range s.devices {
		ok, err := o.has(store.BlacklistKey(id))
		if err != nil {
			return nil, err
		}
		if ok {
			r.BlacklistedDevices = append(r.BlacklistedDevices, id)
		}
	}
	for _, l := range []*[]string{&r.RevokedLicenses, &r.SuspendedLicenses, &r.BlacklistedDevices, &r.SupersededLicenses} {
		slices.Sort(*l)
	}
	return r, nil
}

// licenseEntries appends what the rv/, sp/ and ss/ markers say of one
// license at at. A revoked id and a superseded version stay listed while
// one of their tokens could still be within its window.
func (o *op) licenseEntries(id string, at int64, r *token.RevocationList) error {
	b, err := o.x.Get(store.RevokedKey(id))
	switch {
	case err == nil:
		if until, _ := strconv.ParseInt(string(b), 10, 64); until > at {
			r.RevokedLicenses = append(r.RevokedLicenses, id)
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	ok, err := o.has(store.SuspendedKey(id))
	if err != nil {
		return err
	}
	if ok {
		r.SuspendedLicenses = append(r.SuspendedLicenses, id)
	}
	var s superseded
	switch err := o.x.GetJSON(store.SupersededKey(id), &s); {
	case err == nil:
		if s.Until > at {
			r.SupersededLicenses = append(r.SupersededLicenses, token.SupersededEntry(id, s.Version))
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return nil
}

// has reports whether key k exists.
func (o *op) has(k []byte) (bool, error) {
	_, err := o.x.Get(k)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// signedRevocationList signs the list of deviceID from the current head;
// nil before the ledger has one. Only a read (view) may reuse and keep
// lists (reuse): a write's head is not committed until it is, and a list
// of a seq that never committed must not be handed out.
func (o *op) signedRevocationList(deviceID string, reuse bool) (*SignedRevocationList, error) {
	h, err := o.revocationHead()
	if err != nil || h == nil {
		return nil, err
	}
	signer, err := o.lg.keys.Active()
	if err != nil {
		return nil, fmt.Errorf("ledger: signing key: %w", err)
	}
	if rl := o.lg.rlCache.get(deviceID, h.Seq, signer.KeyID()); reuse && rl != nil {
		return rl, nil
	}
	r, err := o.deviceRevocationList(deviceID, h)
	if err != nil {
		return nil, err
	}
	text, err := token.IssueRevocationList(signer, r)
	if err != nil {
		return nil, fmt.Errorf("ledger: sign revocation list for %s: %w", deviceID, err)
	}
	rl := &SignedRevocationList{DeviceID: deviceID, Seq: r.Seq, IssuedAt: h.IssuedAt, NextUpdate: h.NextUpdate,
		Revoked: len(r.RevokedLicenses), Suspended: len(r.SuspendedLicenses), Blacklist: len(r.BlacklistedDevices),
		Superseded: len(r.SupersededLicenses), Token: text}
	if reuse {
		o.lg.rlCache.put(rl, signer.KeyID())
	}
	return rl, nil
}

// revocationText is the text of deviceID's list, "" before the first head,
// for a read (view).
func (o *op) revocationText(deviceID string) (string, error) {
	rl, err := o.signedRevocationList(deviceID, true)
	if err != nil || rl == nil {
		return "", err
	}
	return rl.Token, nil
}

// revocationAnswer is the list for a sync answer: "" when the agent
// already holds the list at the current head (heldSeq), as most syncs
// find it — the list it holds is the one it would get. That holds because
// the entries of a device's list change only with the head: what widens a
// device's scope without advancing it (a new binding, a token issued, a
// child created) brings no entry the device could need, since a license
// bound or given a token is neither revoked nor suspended, a new child is
// not blacklisted, and the device held no token of an older, superseded
// version (or the held-token index already put it in scope). A lie about
// heldSeq costs only the liar its list.
func (o *op) revocationAnswer(deviceID string, heldSeq int64) (string, error) {
	if heldSeq > 0 {
		h, err := o.revocationHead()
		if err != nil || (h != nil && h.Seq == heldSeq) {
			return "", err
		}
	}
	return o.revocationText(deviceID)
}

// revocationCache keeps the list last signed for each device, so that the
// syncs of a device between two changes sign it once. A list is reused
// only at the seq and key it was signed at: an agent takes one list per
// seq (it keeps the one it holds when another arrives at the same seq), so
// a list built again later at that seq could not tell it more. A change
// to any entry advances the seq, and with it every list is built anew.
type revocationCache struct {
	mu    sync.Mutex
	lists map[string]cachedList
	bytes int
}

type cachedList struct {
	keyID string
	list  *SignedRevocationList
}

func (c *revocationCache) get(deviceID string, seq int64, keyID string) *SignedRevocationList {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lists[deviceID]
	if !ok || e.list.Seq != seq || e.keyID != keyID {
		return nil
	}
	return e.list
}

// put keeps rl, dropping other lists while the cache is over
// MaxRevocationCacheBytes; a list larger than MaxCachedRevocationBytes is
// not kept (signing it again is small next to sending it).
func (c *revocationCache) put(rl *SignedRevocationList, keyID string) {
	if len(rl.Token) > MaxCachedRevocationBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lists == nil {
		c.lists = map[string]cachedList{}
	}
	if old, ok := c.lists[rl.DeviceID]; ok {
		c.bytes -= len(old.list.Token)
	}
	for id, e := range c.lists {
		if c.bytes+len(rl.Token) <= MaxRevocationCacheBytes {
			break
		}
		if id != rl.DeviceID {
			c.bytes -= len(e.list.Token)
			delete(c.lists, id)
		}
	}
	c.lists[rl.DeviceID] = cachedList{keyID: keyID, list: rl}
	c.bytes += len(rl.Token)
}

// RevocationHead returns the current sequence and times. It names no ids:
// every authenticated user may read it.
func (lg *Ledger) RevocationHead(ctx context.Context) (*RevocationHead, error) {
	var out *RevocationHead
	err := lg.view(func(o *op) (err error) {
		out, err = o.revocationHead()
		if err == nil && out == nil {
			err = notFound("revocation list", "current")
		}
		return err
	})
	return out, err
}

// DeviceRevocationList signs the current list of a device the actor may
// see: what an operator carries to an air-gapped agent, or inspects.
func (lg *Ledger) DeviceRevocationList(ctx context.Context, a Actor, deviceID string) (*SignedRevocationList, error) {
	var out *SignedRevocationList
	err := lg.view(func(o *op) error {
		if _, err := o.visibleDevice(a, deviceID); err != nil {
			return err
		}
		rl, err := o.signedRevocationList(deviceID, true)
		if err == nil && rl == nil {
			err = notFound("revocation list", "current")
		}
		out = rl
		return err
	})
	return out, err
}

// PushRevocationList signs the current list of a device for a push to its
// control topic (the Enforcer, after a change to its entries).
func (lg *Ledger) PushRevocationList(ctx context.Context, deviceID string) (string, error) {
	var out string
	err := lg.view(func(o *op) (err error) {
		out, err = o.revocationText(deviceID)
		return err
	})
	return out, err
}
