package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/metrics"
	"github.com/tollgate-iot/tollgate/server/internal/scheduler"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

var serveEnv = map[string]string{"data": "TOLLGATE_DATA", "http": "TOLLGATE_HTTP", "log-level": "TOLLGATE_LOG_LEVEL",
	"tls-cert": "TOLLGATE_TLS_CERT", "tls-key": "TOLLGATE_TLS_KEY", "mqtt": "TOLLGATE_MQTT", "broker": "TOLLGATE_BROKER",
	"mqtt-tls-cert": "TOLLGATE_MQTT_TLS_CERT", "mqtt-tls-key": "TOLLGATE_MQTT_TLS_KEY",
	"broker-username": "TOLLGATE_BROKER_USERNAME", "broker-password-file": "TOLLGATE_BROKER_PASSWORD_FILE",
	"broker-ca": "TOLLGATE_BROKER_CA", "broker-cert": "TOLLGATE_BROKER_CERT", "broker-key": "TOLLGATE_BROKER_KEY",
	"mqtt-max-payload": "TOLLGATE_MQTT_MAX_PAYLOAD", "jetstream-max-store": "TOLLGATE_JETSTREAM_MAX_STORE",
	"jetstream-max-memory": "TOLLGATE_JETSTREAM_MAX_MEMORY"}

func parseServe(env *IO, args []string) (Config, error) {
	c := DefaultConfig()
	fs := cli.Flags("serve")
	fs.StringVar(&c.DataDir, "data", "", "server data directory (env TOLLGATE_DATA)")
	fs.StringVar(&c.HTTPAddr, "http", c.HTTPAddr, "admin API listen address; port 0 picks a free one (env TOLLGATE_HTTP)")
	fs.StringVar((*string)(&c.Profile), "profile", string(c.Profile), "storage profile: server or small")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (env TOLLGATE_LOG_LEVEL)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate to serve HTTPS with, e.g. certs/dev/server.crt (env TOLLGATE_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert (env TOLLGATE_TLS_KEY)")
	fs.StringVar(&c.MQTTAddr, "mqtt", "", "MQTT listen address of the embedded broker, e.g. 127.0.0.1:1883; port 0 picks a free one; empty: no MQTT (env TOLLGATE_MQTT)")
	fs.StringVar(&c.MQTTTLSCert, "mqtt-tls-cert", "", "PEM certificate for MQTT over TLS (agents use ssl://), e.g. certs/dev/server.crt (env TOLLGATE_MQTT_TLS_CERT)")
	fs.StringVar(&c.MQTTTLSKey, "mqtt-tls-key", "", "PEM private key of --mqtt-tls-cert (env TOLLGATE_MQTT_TLS_KEY)")
	fs.IntVar(&c.MQTTMaxPayload, "mqtt-max-payload", c.MQTTMaxPayload, "largest message on the embedded broker in bytes, a device's publish or the server's push; a device publishing more is disconnected (env TOLLGATE_MQTT_MAX_PAYLOAD)")
	fs.Int64Var(&c.JetStreamMaxStore, "jetstream-max-store", c.JetStreamMaxStore, "disk the embedded broker's JetStream may use in DATA/broker/, in bytes (env TOLLGATE_JETSTREAM_MAX_STORE)")
	fs.Int64Var(&c.JetStreamMaxMemory, "jetstream-max-memory", c.JetStreamMaxMemory, "memory the embedded broker's JetStream may use, in bytes (env TOLLGATE_JETSTREAM_MAX_MEMORY)")
	fs.StringVar(&c.Broker, "broker", c.Broker, "embedded, or an external broker tcp://HOST:PORT or ssl://HOST:PORT (env TOLLGATE_BROKER)")
	fs.StringVar(&c.BrokerUsername, "broker-username", "", "username of the server on an external broker (env TOLLGATE_BROKER_USERNAME)")
	fs.StringVar(&c.BrokerPasswordFile, "broker-password-file", "", "file holding the password of --broker-username (env TOLLGATE_BROKER_PASSWORD_FILE)")
	fs.StringVar(&c.BrokerCA, "broker-ca", "", "PEM CA bundle to trust for an ssl:// --broker, e.g. certs/dev/ca.crt; default the system roots (env TOLLGATE_BROKER_CA)")
	fs.StringVar(&c.BrokerCert, "broker-cert", "", "PEM client certificate for an ssl:// --broker that requires one (env TOLLGATE_BROKER_CERT)")
	fs.StringVar(&c.BrokerKey, "broker-key", "", "PEM private key of --broker-cert (env TOLLGATE_BROKER_KEY)")
	fs.DurationVar(&c.ObservedFlushInterval, "observed-flush-interval", c.ObservedFlushInterval, "how often the telemetry counts the broker observed are written to the ledger")
	fs.DurationVar(&c.SchedulerInterval, "scheduler-interval", c.SchedulerInterval, "how often renewals and expiries are applied")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long SIGTERM waits for requests to finish")
	if err := cli.Parse(fs, args, serveEnv); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := c.Validate(); err != nil {
		return c, cli.Usagef("%v", err)
	}
	return c, nil
}

func runServe(ctx context.Context, env *IO, args []string) error {
	c, err := parseServe(env, args)
	if err != nil {
		return err
	}
	level, _ := c.level()
	log := slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	if err := checkInitialized(c.DataDir); err != nil {
		return err
	}
	ks, err := keys.Open(c.DataDir, env.Clock)
	if err != nil {
		return storeError(err)
	}
	if _, err := ks.Active(); err != nil {
		return storeError(err)
	}
	db, err := store.Open(store.Options{Dir: ledgerDir(c.DataDir), Profile: c.Profile, Clock: env.Clock,
		GCInterval: c.GCInterval, Logger: log})
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	defer db.Close() // badger closes last, after HTTP and the scheduler stopped
	m := metrics.New()
	m.Counter("tollgate_ledger_changes_total", "Committed ledger changes by action.", "action")
	kc := keys.NewCache(ks, env.Clock, c.KeyCacheTTL)
	lg, err := ledger.New(ledger.Options{DB: db, Clock: env.Clock, Keys: kc, Logger: log,
		OnChange: func(action string) { m.Add("tollgate_ledger_changes_total", 1, action) }})
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	if lg.RootID() == "" {
		return cli.Errorf("not_initialized", "%s has no ledger: run tollgate-server init --data %s", c.DataDir, c.DataDir)
	}
	ln, scheme, err := listen(c)
	if err != nil {
		return err
	}
	var mr *mqttRuntime
	if c.mqttOn() {
		if mr, err = startMQTT(c, lg, kc, env, log, m); err != nil {
			ln.Close()
			return err
		}
		defer mr.stop() // after HTTP and the scheduler stopped, before badger
	}
	srv := &http.Server{
		Handler:           api.New(api.Options{Ledger: lg, Clock: env.Clock, Logger: log, Metrics: m}).Handler(),
		ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout,
		IdleTimeout: c.IdleTimeout, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	m.Counter("tollgate_scheduler_applied_total", "Term licenses renewed or expired by the scheduler.", "result")
	m.Add("tollgate_scheduler_applied_total", 0, "renewed") // both series from the start, so rate() sees the first pass
	m.Add("tollgate_scheduler_applied_total", 0, "expired")
	m.Counter("tollgate_scheduler_errors_total", "Scheduler passes that failed.")
	m.Add("tollgate_scheduler_errors_total", 0)
	if err := m.Register(metrics.NewLicenseCollector(licenseCounter(lg), env.Clock, log)); err != nil {
		ln.Close()
		return cli.Errorf("metrics", "%v", err)
	}
	return serveUntilDone(ctx, env, c, log, running{srv: srv, ln: ln, scheme: scheme, lg: lg, m: m, mqtt: mr})
}

// running is what serve runs until it is stopped.
type running struct {
	srv    *http.Server
	ln     net.Listener
	scheme string
	lg     *ledger.Ledger
	m      *metrics.Registry
	mqtt   *mqttRuntime // nil without MQTT
}

// listen opens the API listener, wrapped in TLS when a certificate is
// configured, and names its URL scheme.
func listen(c Config) (net.Listener, string, error) {
	var tlsConf *tls.Config
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, "", cli.Errorf("tls", "%v", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return nil, "", cli.Errorf("listen", "%v", err)
	}
	if tlsConf != nil {
		return tls.NewListener(ln, tlsConf), "https", nil
	}
	return ln, "http", nil
}

// serveUntilDone runs HTTP and the scheduler until ctx ends (SIGTERM), then
// shuts HTTP down gracefully and waits for the scheduler.
func serveUntilDone(ctx context.Context, env *IO, c Config, log *slog.Logger, r running) error {
	lg, m, srv, ln := r.lg, r.m, r.srv, r.ln
	schedCtx, stopSched := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		scheduler.Run(schedCtx, scheduler.Options{Ledger: lg, Clock: env.Clock, Interval: c.SchedulerInterval, Logger: log,
			OnPass: func(renewed, expired int, err error) {
				m.Add("tollgate_scheduler_applied_total", float64(renewed), "renewed")
				m.Add("tollgate_scheduler_applied_total", float64(expired), "expired")
				if err != nil {
					m.Add("tollgate_scheduler_errors_total", 1)
				}
			}})
	}()
	defer func() { stopSched(); wg.Wait() }()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(env.Stdout, "http: %s://%s\n", r.scheme, ln.Addr())
	if r.mqtt != nil {
		fmt.Fprintf(env.Stdout, "mqtt: %s\n", r.mqtt.svc.MQTTAddr())
		log.Info("serving mqtt", "mqtt", r.mqtt.svc.MQTTAddr(), "broker", c.Broker)
	}
	log.Info("serving", "http", ln.Addr().String(), "data", c.DataDir)
	select {
	case err := <-errc:
		return cli.Errorf("serve", "%v", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return cli.Errorf("shutdown", "%v", err)
	}
	return nil
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
