package runtime

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/effclock"
	agentlimits "github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/syncer"
	"github.com/tollgate-iot/tollgate/agent/internal/upstream"
	"github.com/tollgate-iot/tollgate/shared/clock"
	sharedlimits "github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// SyncResult is what `tollgate-agent sync` reports.
type SyncResult = syncer.Result

// Sync runs one sync with the license server now (docs/sync.md). It waits
// for a sync already under way (the background one) to end first.
func (a *Agent) Sync(ctx context.Context) (SyncResult, error) {
	start := a.timers.Now()
	res, err := a.sync1(ctx)
	a.lat.sync.WithLabelValues(result(err)).Observe(a.timers.Now().Sub(start).Seconds())
	return res, err
}

func (a *Agent) sync1(ctx context.Context) (SyncResult, error) {
	c, err := a.syncClient()
	if err != nil {
		return SyncResult{}, err
	}
	return c.Sync(ctx)
}

// serverURL is the configured license server, else the one given at init.
func (a *Agent) serverURL() string {
	if a.cfg.Server != "" {
		return a.cfg.Server
	}
	return a.id.Server
}

func (a *Agent) syncClient() (*syncer.Client, error) {
	a.synm.Lock()
	defer a.synm.Unlock()
	if a.sync != nil {
		return a.sync, nil
	}
	if a.trust == nil {
		return nil, ErrNoTrust
	}
	url := a.serverURL()
	var tlsc *tls.Config
	if strings.Contains(url, "https://") {
		var err error
		if tlsc, err = a.serverTLS(syncer.SplitURLs(url)[0]); err != nil {
			return nil, err
		}
		if tlsc != nil {
			// Several addresses: each request is verified against its own
			// host name (the transport fills it in when it is empty).
			tlsc.ServerName = ""
		}
	}
	signer, err := token.NewSigner(a.priv)
	if err != nil {
		return nil, err
	}
	devs := make([]string, 0, 1+len(a.cfg.Children))
	for _, d := range a.gate.Devices() {
		devs = append(devs, d.ID)
	}
	c, err := syncer.New(syncer.Options{URL: url, HTTP: syncer.NewHTTPClient(tlsc), Store: a.st,
		Signer: signer, Trust: a.trust, DeviceID: a.id.DeviceID, Devices: devs, Held: a.held,
		Now: a.effSeconds, Wall: a.wallSeconds, Apply: a.applySync, Logger: a.log})
	if err != nil {
		return nil, err
	}
	a.sync = c
	return c, nil
}

// serverTLS trusts the agent's CA (certs_dir/ca.crt, with the device's
// client pair for mutual TLS) when it has one, else the system roots.
func (a *Agent) serverTLS(url string) (*tls.Config, error) {
	if _, err := os.Stat(filepath.Join(a.cfg.CertsPath(), config.CACertFile)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return upstream.TLSConfig(a.cfg.CertsPath(), a.id.DeviceID, url)
}

func (a *Agent) effSeconds() int64 {
	eff, _ := a.clk.Now()
	return eff / int64(time.Second)
}

// wallSeconds is the real-time reading a sync request carries as
// sent_wall, which the server judges its freshness on: the wall clock
// beneath a simulation's scaling (--clock-speed runs the effective time
// days ahead; the request is still made now). 0 — none, the server judges
// the effective time as before — when the wall clock cannot be right: not
// set (a gateway booted at 1970), or behind the newest server-signed time
// by more than the clock tolerance.
func (a *Agent) wallSeconds() int64 {
	w := a.wall
	if _, scaled := w.(effclock.Scaled); scaled || w == nil {
		w = clock.Real{}
	}
	now := w.Now().Unix()
	tol := int64(time.Duration(a.cfg.ClockTolerance) / time.Second)
	if now < agentlimits.MinPlausibleUnix || now < a.clk.State().ServerTime-tol {
		return 0
	}
	return now
}

// held is what the agent reports it holds: the versions of its own
// device's tokens (a report names at most limits.MaxActivationKeyTokens; a
// gateway's children's tokens are not the gateway's to report) and the
// revocation list's seq.
func (a *Agent) held() syncer.Held {
	var h syncer.Held
	if d := a.gate.Lookup(a.id.DeviceID); d != nil {
		for _, l := range d.Licenses() {
			if len(h.Tokens) == sharedlimits.MaxActivationKeyTokens {
				break
			}
			h.Tokens = append(h.Tokens, syncproto.TokenVersion{LicenseID: l.Tok.LicenseID, Version: l.Tok.Version})
		}
	}
	if r := a.gate.Revocation(); r != nil {
		h.RevocationSeq = r.Seq
	}
	return h
}

// applySync takes in a verified sync answer: its server time into the
// effective clock (persisted), then its tokens and revocation list through
// the activation path. A document the agent refuses (an older version or
// list, a token for a device it does not enforce for) is logged and
// skipped; the rest is applied. Only storage errors fail the sync.
func (a *Agent) applySync(_ context.Context, r *syncproto.Response) error {
	a.clk.ObserveServerTime(r.ServerTime)
	if err := a.st.PutJSON(store.KeyClock(), a.clk.State()); err != nil {
		return err
	}
	docs := r.Tokens
	if r.RevocationList != "" {
		docs = append([]string{r.RevocationList}, docs...)
	}
	a.imp.Lock()
	defer a.imp.Unlock()
	changed := false
	for i, text := range docs {
		p, err := a.verifyDocument(text)
		if err == nil && p.rev != nil && a.gate.Revocation() != nil && a.gate.Revocation().Seq == p.rev.Seq {
			continue // the list held (CheckNewer found it the same)
		}
		if err == nil {
			var im Imported
			im, err = a.importOne(p.lic, p.rev, text)
			changed = changed || im.Result == "stored"
		}
		if refusedDocument(err) {
			a.log.Warn("sync answer document refused; skipped", "document", i+1, "code", ErrorCode(err), "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("applying sync answer: %w", err)
		}
	}
	if !changed {
		return nil
	}
	return a.reloadTokens()
}

// refusedDocument tells a document the agent refuses (it does not verify,
// is older than what is held, or is for a device this agent does not
// enforce for) from a failure of the agent's own storage.
func refusedDocument(err error) bool {
	for _, e := range []error{token.ErrRollback, ErrWrongDevice, ErrModelMismatch, ErrUnknownDocument,
		token.ErrBadSignature, token.ErrUnknownKey, token.ErrMalformed, token.ErrTooLarge,
		token.ErrUnsupportedVersion, token.ErrWrongKind, token.ErrWeakKey} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// LastSync returns the effective time of the last successful sync.
func (a *Agent) LastSync() (time.Time, bool) {
	at, err := a.st.Int(store.KeyLastSync())
	if err != nil || at == 0 {
		return time.Time{}, false
	}
	return time.Unix(at, 0).UTC(), true
}

// kickSync asks the background sync for a sync out of turn: the upstream
// broker connection came back, and a push sent while the agent was away
// (a resume, a new token) is lost. It never blocks; kicks that come before
// the sync starts are one sync (syncer.Loop).
func (a *Agent) kickSync() {
	select {
	case a.syncKick <- struct{}{}:
	default:
	}
}

// syncLoop syncs in the background while Run runs and a server is set.
func (a *Agent) syncLoop(ctx context.Context) {
	sched := syncer.DefaultSchedule(rand.Float64)
	if a.schedule != nil {
		sched = a.schedule()
	}
	syncer.Loop(ctx, a.timers, sched, a.syncKick, func(ctx context.Context) error {
		_, err := a.Sync(ctx)
		switch {
		case err == nil, ctx.Err() != nil:
		case syncer.Retryable(err):
			a.log.Warn("sync failed; backing off", "code", ErrorCode(err), "err", err)
		default:
			a.log.Error("sync failed", "code", ErrorCode(err), "err", err)
		}
		return err
	})
}
