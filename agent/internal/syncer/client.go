// Package syncer is the agent's half of online sync (docs/design.md#sync,
// docs/sync.md): it builds a usage report from the agent's store, signs it
// with the device key, posts it to the license server, verifies the signed
// answer against the pinned trust and applies it durably. One report is in
// flight at a time: two reports of the same still-growing hour must not be
// reordered.
package syncer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	agentlimits "github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// SyncPath is the server's device sync endpoint.
const SyncPath = "/v1/device/sync"

// Options configure a Client.
type Options struct {
	// URL is the license server's base URL (http:// or https://), or
	// several, comma-separated: replicas of one server, tried in turn
	// (failover.go).
	URL string
	// HTTP is the client requests go through (see NewHTTPClient).
	HTTP  *http.Client
	Store *store.Store
	// Signer holds the device key.
	Signer *token.Signer
	// Trust is the pinned server trust the answer is verified against.
	Trust    *token.Trust
	DeviceID string
	// Devices are the devices whose hourly counts are reported.
	Devices []string
	// Held returns the token versions and revocation-list seq held now.
	Held func() Held
	// Now returns the effective time, Unix seconds.
	Now func() int64
	// Wall returns the real wall clock, Unix seconds, or 0 when it cannot
	// be trusted (nil: none). The server judges a request's freshness on
	// it, so an agent on a simulation clock is not refused as stale.
	Wall func() int64
	// Apply stores the answer's tokens, revocation list and server time
	// durably; the report's marks move only after it succeeded.
	Apply func(ctx context.Context, r *syncproto.Response) error
	// Random is the nonce source (crypto/rand when nil).
	Random io.Reader
	Logger *slog.Logger
}

// Client syncs one agent with its license server.
type Client struct {
	o  Options
	mu sync.Mutex // one sync at a time
	// urls are the server's addresses; cur the one that answered last,
	// tried first (under mu).
	urls []string
	cur  int
	// failovers counts syncs sent to another address because the one
	// tried was unreachable or failing.
	failovers atomic.Int64

	ok, failed atomic.Int64
}

// Counts returns how many syncs succeeded and failed since the client was
// made.
func (c *Client) Counts() (ok, failed int64) { return c.ok.Load(), c.failed.Load() }

// Result describes one completed sync.
type Result struct {
	// Reports is how many reports were sent (more than one when paging).
	Reports    int   `json:"reports"`
	Deductions int   `json:"deductions"`
	Counts     int   `json:"counts"`
	AckedSeq   int64 `json:"acked_seq"`
	// Missing are seq ranges the server lacks below its highest.
	Missing    []syncproto.SeqRange `json:"missing"`
	ServerTime int64                `json:"server_time"`
	// At is the effective time the sync completed, Unix seconds.
	At int64 `json:"at"`
}

// New returns a client; it fails with ErrNoServer when no URL is set.
func New(o Options) (*Client, error) {
	urls := SplitURLs(o.URL)
	if len(urls) == 0 {
		return nil, &Error{Code: "no_server", Err: ErrNoServer}
	}
	if o.Random == nil {
		o.Random = rand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	for i, u := range urls {
		urls[i] = strings.TrimSuffix(u, "/")
	}
	return &Client{o: o, urls: urls}, nil
}

// Sync sends reports until the store holds nothing more to report (or
// MaxSyncPages were sent, or a report moved nothing forward) and applies
// each answer. Errors of the exchange are *Error.
func (c *Client) Sync(ctx context.Context) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var res Result
	for res.Reports < agentlimits.MaxSyncPages {
		page, resp, err := c.once(ctx, &res)
		if err != nil {
			c.failed.Add(1)
			return res, err
		}
		res.Reports++
		res.AckedSeq, res.Missing, res.ServerTime = resp.AckedSeq, resp.Missing, resp.ServerTime
		// Page on while a report left records out and its answer moved
		// something forward (a server that cannot close a gap acks nothing
		// new: sending the same records again now would not help).
		// (A server may also ack a prefix of a report it could not take
		// whole: the rest goes at once.)
		moreDeductions, progressed := page.MoreDeductions || resp.AckedSeq < page.LastSeq, resp.AckedSeq > page.FromSeq
		for _, c := range resp.Children {
			if last, ok := page.ChildLast[c.DeviceID]; ok {
				moreDeductions = moreDeductions || c.AckedSeq < last
				progressed = progressed || c.AckedSeq > page.ChildFrom[c.DeviceID]
			}
		}
		if !(moreDeductions && progressed || page.MoreCounts) {
			break
		}
	}
	res.At = c.o.Now()
	c.ok.Add(1)
	return res, nil
}

// once sends one report and applies its answer, failing over to the
// server's next address while one is unreachable or failing (failover.go).
func (c *Client) once(ctx context.Context, res *Result) (Page, *syncproto.Response, error) {
	var page Page
	var resp *syncproto.Response
	var err error
	for try := range len(c.urls) {
		url := c.urls[c.cur]
		page, resp, err = c.onceTo(ctx, res, url)
		if !failover(err) || try == len(c.urls)-1 || ctx.Err() != nil {
			return page, resp, err
		}
		c.cur = (c.cur + 1) % len(c.urls)
		c.failovers.Add(1)
		c.o.Logger.Warn("license server failing: trying the next address", "server", url, "next", c.urls[c.cur], "err", err)
	}
	return page, resp, err
}

// onceTo sends one report to the server at url and applies its answer.
// Each call builds and signs a new request (a new nonce): a request a
// failing replica may have applied is acknowledged again by another,
// never charged twice.
func (c *Client) onceTo(ctx context.Context, res *Result, url string) (Page, *syncproto.Response, error) {
	nonce, err := c.nonce()
	if err != nil {
		return Page{}, nil, err
	}
	var wall int64
	if c.o.Wall != nil {
		wall = c.o.Wall()
	}
	rep, page, err := Build(c.o.Store, BuildInput{DeviceID: c.o.DeviceID, Devices: c.o.Devices,
		Held: c.o.Held(), Nonce: nonce, SentAt: c.o.Now(), SentWall: wall})
	if err != nil {
		return page, nil, err
	}
	text, err := syncproto.SignRequest(c.o.Signer, rep)
	if err != nil {
		return page, nil, err
	}
	answer, err := c.post(ctx, url, text)
	if err != nil {
		return page, nil, err
	}
	resp, err := syncproto.OpenResponse(c.o.Trust, c.o.DeviceID, nonce, answer)
	if err != nil {
		c.o.Logger.Error("sync answer failed verification; ignored", "err", err)
		return page, nil, badAnswer(err)
	}
	if err := c.o.Apply(ctx, resp); err != nil {
		return page, nil, err
	}
	err = c.o.Store.SaveSync(store.SyncProgress{AckedSeq: resp.AckedSeq, Hours: page.Hours, At: c.o.Now()})
	if err != nil {
		return page, nil, err
	}
	if err := c.o.Store.SaveChildAcked(childAcks(resp, page)); err != nil {
		return page, nil, err
	}
	res.Deductions += len(rep.Deductions)
	res.Counts += len(rep.Counts)
	c.o.Logger.Info("synced", "deductions", len(rep.Deductions), "counts", len(rep.Counts),
		"acked_seq", resp.AckedSeq, "missing_ranges", len(resp.Missing))
	return page, resp, nil
}

// childAcks are the answer's acks of the children the report carried
// records of (an answer naming another device moves nothing).
func childAcks(resp *syncproto.Response, page Page) map[string]int64 {
	out := map[string]int64{}
	for _, c := range resp.Children {
		if _, ok := page.ChildLast[c.DeviceID]; ok {
			out[c.DeviceID] = c.AckedSeq
		}
	}
	return out
}

func (c *Client) nonce() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(c.o.Random, b[:]); err != nil {
		return "", fmt.Errorf("sync nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// post sends the signed request and returns the answer's text.
func (c *Client) post(ctx context.Context, url, text string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+SyncPath, strings.NewReader(text))
	if err != nil {
		return "", &Error{Code: "no_server", Err: fmt.Errorf("%w: %v", ErrNoServer, err)}
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		return "", networkError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, agentlimits.MaxSyncErrorBytes))
		var e wire.ErrorBody
		_ = json.Unmarshal(b, &e)
		msg := e.Error.Message
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return "", refused(resp.StatusCode, e.Error.Code, msg)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limits.MaxSignedDocumentBytes+1))
	if err != nil {
		return "", networkError(err)
	}
	if len(b) > limits.MaxSignedDocumentBytes {
		return "", badAnswer(fmt.Errorf("answer over %d bytes", limits.MaxSignedDocumentBytes))
	}
	return strings.TrimSpace(string(b)), nil
}

// NewHTTPClient returns the bounded client a sync goes through; tlsc is
// used for https:// servers (nil: the system roots).
func NewHTTPClient(tlsc *tls.Config) *http.Client {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: agentlimits.SyncDialTimeout}).DialContext,
		TLSClientConfig:     tlsc,
		TLSHandshakeTimeout: agentlimits.SyncTLSHandshakeTimeout,
		IdleConnTimeout:     agentlimits.HTTPIdleTimeout,
		MaxIdleConns:        1,
	}
	return &http.Client{Transport: tr, Timeout: agentlimits.SyncHTTPTimeout}
}
