package app

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/console"
	"github.com/tollgate-iot/tollgate/server/internal/egress"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/mail"
	"github.com/tollgate-iot/tollgate/server/internal/metrics"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// ErrNoClock reports Deps without a Clock.
var ErrNoClock = errors.New("app: Deps.Clock is required")

// Deps is what New takes from its caller besides the configuration.
type Deps struct {
	// Clock is the time of everything the server does (required).
	Clock clock.Clock
	// Logger receives the server's structured logs; nil discards them.
	Logger *slog.Logger
}

// App is a tollgate-server serve that New opened and Run serves. Its
// errors are *cli.Error values carrying the stable code the command line
// prints (not_initialized, listen, mqtt, tls, io, ...).
type App struct {
	cfg Config
	clk clock.Clock
	log *slog.Logger

	db     *store.DB
	lg     *ledger.Ledger
	m      *metrics.Registry
	ln     net.Listener
	scheme string
	srv    *http.Server
	mqtt   *mqttRuntime  // nil without MQTT
	mailer *mail.Sender  // nil without --smtp
	wake   chan struct{} // the ledger queued a webhook delivery (notify.go)

	closeOnce sync.Once
	closeErr  error
}

// New opens everything serve runs, in dependency order: the signing keys,
// badger, the metrics registry, the ledger, the API listener, the broker
// (embedded or external) with the ledger's enforcer and the observed
// telemetry counter, then the API handler and the license gauge. The
// configuration is validated first and the data directory must have been
// set up by init; nothing is created in it before that check. If a step
// fails, what the steps before it opened is closed again (no badger lock
// or listener is left behind). ctx ending before the broker starts stops
// New there.
func New(ctx context.Context, cfg Config, deps Deps) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, cli.Errorf("invalid_config", "%v", err)
	}
	if deps.Clock == nil {
		return nil, cli.Errorf("invalid_config", "%v", ErrNoClock)
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := CheckInitialized(cfg.DataDir, cfg.Store); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, clk: deps.Clock, log: log, m: metrics.New()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	kc, err := a.openKeys()
	if err != nil {
		return nil, err
	}
	if a.mailer, err = a.openMail(); err != nil {
		return nil, err
	}
	if err := a.openLedger(kc); err != nil {
		return nil, err
	}
	if err := a.listen(); err != nil {
		return nil, err
	}
	if cfg.mqttOn() {
		if err := ctx.Err(); err != nil {
			return nil, cli.Errorf("canceled", "%v", err)
		}
		if a.mqtt, err = startMQTT(cfg, a.lg, kc, a.clk, log, a.m); err != nil {
			return nil, err
		}
	}
	if err := a.newAPI(); err != nil {
		return nil, err
	}
	return a, nil
}

// openKeys opens the key store, which must have an active signing key, and
// caches it for the ledger and the broker.
func (a *App) openKeys() (*keys.Cache, error) {
	ks, err := keys.Open(a.cfg.DataDir, a.clk)
	if err != nil {
		return nil, KeyStoreError(err)
	}
	if _, err := ks.Active(); err != nil {
		return nil, KeyStoreError(err)
	}
	return keys.NewCache(ks, a.clk, a.cfg.KeyCacheTTL), nil
}

// openLedger opens the store (badger, or PostgreSQL with --store) and the
// ledger over it; the ledger must have its root customer (init made it).
func (a *App) openLedger(kc *keys.Cache) error {
	c := a.cfg
	db, err := store.OpenEngine(context.Background(), c.Store, store.Options{Dir: LedgerDir(c.DataDir), Profile: c.Profile, Clock: a.clk,
		GCInterval: c.GCInterval, Logger: a.log})
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	a.db = db
	a.m.Counter("tollgate_ledger_changes_total", "Committed ledger changes by action.", "action")
	a.m.GaugeFunc("tollgate_store_retries", "Ledger transactions run again since start because they lost a conflict with another writer (another replica, on PostgreSQL).",
		func() float64 { return float64(db.Retries()) })
	a.wake = make(chan struct{}, 1)
	lg, err := ledger.New(ledger.Options{DB: db, Clock: a.clk, Keys: kc, Logger: a.log, Mail: a.mailer != nil,
		OnChange:          func(action string) { a.m.Add("tollgate_ledger_changes_total", 1, action) },
		Egress:            egress.Guard{AllowPrivate: c.WebhookAllowPrivate},
		DeliveryRetryBase: c.WebhookRetryBase,
		OnDeliveryQueued: func() {
			select {
			case a.wake <- struct{}{}:
			default: // a pass is already due
			}
		}})
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	if lg.RootID() == "" {
		return cli.Errorf("not_initialized", "%s has no ledger: run tollgate-server init --data %s", c.DataDir, c.DataDir)
	}
	a.lg = lg
	return nil
}

// listen opens the API listener, wrapped in TLS when a certificate is
// configured, and names its URL scheme.
func (a *App) listen() error {
	c := a.cfg
	var tlsConf *tls.Config
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return cli.Errorf("tls", "%v", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return cli.Errorf("listen", "%v", err)
	}
	a.ln, a.scheme = ln, "http"
	if tlsConf != nil {
		a.ln, a.scheme = tls.NewListener(ln, tlsConf), "https"
	}
	return nil
}

// newAPI makes the HTTP server of the admin API, /healthz and /metrics,
// and registers the scheduler's counters and the license gauge.
func (a *App) newAPI() error {
	c, m := a.cfg, a.m
	web, err := console.New(console.Options{Ledger: a.lg, Clock: a.clk, Logger: a.log, Invitations: a.invitations()})
	if err != nil {
		return cli.Errorf("console", "%v", err)
	}
	a.srv = &http.Server{
		Handler: web.Mount(api.New(api.Options{Ledger: a.lg, Clock: a.clk, Logger: a.log, Metrics: m,
			Invitations: a.invitations()}).Handler()),
		ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout,
		IdleTimeout: c.IdleTimeout, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	m.Counter("tollgate_scheduler_applied_total", "Term licenses renewed or expired by the scheduler.", "result")
	m.Add("tollgate_scheduler_applied_total", 0, "renewed") // both series from the start, so rate() sees the first pass
	m.Add("tollgate_scheduler_applied_total", 0, "expired")
	m.Counter("tollgate_scheduler_errors_total", "Scheduler passes that failed.")
	m.Add("tollgate_scheduler_errors_total", 0)
	m.Counter("tollgate_retention_pruned_total", "Hourly counts deleted by retention pruning.")
	m.Add("tollgate_retention_pruned_total", 0)
	a.mailMetrics()
	if err := m.Register(metrics.NewLicenseCollector(licenseCounter(a.lg), a.clk, a.log)); err != nil {
		return cli.Errorf("metrics", "%v", err)
	}
	return nil
}

// HTTPURL is the base URL of the admin API: http:// or https:// and the
// bound address (the real port when the configured one was 0).
func (a *App) HTTPURL() string { return a.scheme + "://" + a.ln.Addr().String() }

// MQTTAddr is the embedded broker's bound MQTT address, or the external
// broker's URL; "" without MQTT.
func (a *App) MQTTAddr() string {
	if a.mqtt == nil {
		return ""
	}
	return a.mqtt.svc.MQTTAddr()
}

// Run serves the API and runs the scheduler until ctx ends (SIGTERM); then
// it shuts HTTP down gracefully (at most ShutdownTimeout), waits for the
// scheduler, stops the broker (flushing the observed counts into the still
// open ledger) and closes badger last. Run is called once; it closes the
// App whatever it returns.
func (a *App) Run(ctx context.Context) (err error) {
	defer func() {
		if cerr := a.Close(); cerr != nil && err == nil {
			err = cli.Errorf("io", "closing the ledger: %v", cerr)
		}
	}()
	c := a.cfg
	schedCtx, stopSched := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	a.runScheduler(schedCtx, &wg)
	a.runNotices(schedCtx, &wg)
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.deliverer().Run(schedCtx)
	}()
	defer func() { stopSched(); wg.Wait() }() // before Close: the scheduler, the mailer and the deliverer write to badger
	errc := make(chan error, 1)
	go func() { errc <- a.srv.Serve(a.ln) }()
	if a.mqtt != nil {
		a.log.Info("serving mqtt", "mqtt", a.MQTTAddr(), "broker", c.Broker)
	}
	a.log.Info("serving", "http", a.ln.Addr().String(), "data", c.DataDir)
	select {
	case err := <-errc:
		return cli.Errorf("serve", "%v", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.ShutdownTimeout)
	defer cancel()
	if err := a.srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return cli.Errorf("shutdown", "%v", err)
	}
	return nil
}

// Close releases what New opened, in reverse order: the API listener, the
// broker, badger. Run calls it; a caller that never runs the App calls it
// instead. Only the first call does anything.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		if a.ln != nil {
			a.ln.Close() // already closed after a Shutdown; the error says so
		}
		if a.mqtt != nil {
			a.mqtt.stop()
		}
		if a.db != nil {
			a.closeErr = a.db.Close()
		}
	})
	return a.closeErr
}

// licenseCounter adapts the ledger's license counts to the metrics
// collector, which knows nothing of ledger types.
func licenseCounter(lg *ledger.Ledger) metrics.LicenseCounter {
	return func(ctx context.Context) (map[string]map[string]int64, error) {
		counts, err := lg.LicenseCounts(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]map[string]int64, len(counts))
		for customer, byStatus := range counts {
			m := make(map[string]int64, len(byStatus))
			for st, n := range byStatus {
				m[string(st)] = n
			}
			out[customer] = m
		}
		return out, nil
	}
}
