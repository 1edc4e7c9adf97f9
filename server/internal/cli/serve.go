package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

var serveEnv = map[string]string{"data": "TOLLGATE_DATA", "store": "TOLLGATE_STORE", "http": "TOLLGATE_HTTP", "log-level": "TOLLGATE_LOG_LEVEL",
	"tls-cert": "TOLLGATE_TLS_CERT", "tls-key": "TOLLGATE_TLS_KEY", "mqtt": "TOLLGATE_MQTT", "broker": "TOLLGATE_BROKER",
	"mqtt-tls-cert": "TOLLGATE_MQTT_TLS_CERT", "mqtt-tls-key": "TOLLGATE_MQTT_TLS_KEY",
	"broker-username": "TOLLGATE_BROKER_USERNAME", "broker-password-file": "TOLLGATE_BROKER_PASSWORD_FILE",
	"broker-ca": "TOLLGATE_BROKER_CA", "broker-cert": "TOLLGATE_BROKER_CERT", "broker-key": "TOLLGATE_BROKER_KEY",
	"mqtt-max-payload": "TOLLGATE_MQTT_MAX_PAYLOAD", "jetstream-max-store": "TOLLGATE_JETSTREAM_MAX_STORE",
	"jetstream-max-memory": "TOLLGATE_JETSTREAM_MAX_MEMORY", "smtp": "TOLLGATE_SMTP", "mail-from": "TOLLGATE_MAIL_FROM",
	"smtp-password-file": "TOLLGATE_SMTP_PASSWORD_FILE", "smtp-ca": "TOLLGATE_SMTP_CA",
	"public-url": "TOLLGATE_PUBLIC_URL", "cluster": "TOLLGATE_CLUSTER", "routes": "TOLLGATE_ROUTES",
	"server-name": "TOLLGATE_SERVER_NAME", "cluster-secret-file": "TOLLGATE_CLUSTER_SECRET_FILE",
	"webhook-allow-private": "TOLLGATE_WEBHOOK_ALLOW_PRIVATE", "webhook-retry-base": "TOLLGATE_WEBHOOK_RETRY_BASE"}

// parseServe reads serve's configuration: app's defaults, then TOLLGATE_*
// environment variables, then flags; a configuration that does not
// validate is a usage error.
func parseServe(args []string) (app.Config, error) {
	c := app.DefaultConfig()
	fs := cli.Flags("serve")
	fs.StringVar(&c.DataDir, "data", "", "server data directory (env TOLLGATE_DATA)")
	fs.StringVar(&c.Store, "store", c.Store, storeUsage)
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
	fs.StringVar(&c.ClusterAddr, "cluster", "", "route listen address of the embedded broker's cluster, e.g. 10.0.0.5:6222; empty: no cluster (env TOLLGATE_CLUSTER)")
	fs.StringVar(&c.Routes, "routes", "", "the other cluster members' route addresses, nats://HOST:PORT,... (env TOLLGATE_ROUTES)")
	fs.StringVar(&c.ServerName, "server-name", "", "this member's name, unique in the cluster; default the host name and the --cluster port (env TOLLGATE_SERVER_NAME)")
	fs.StringVar(&c.ClusterSecretFile, "cluster-secret-file", "", "file (mode 600) holding the secret every cluster member shares; routes authenticate with it (env TOLLGATE_CLUSTER_SECRET_FILE)")
	fs.StringVar(&c.SMTP, "smtp", "", "mail server for notices: smtp://USER@HOST:587 (STARTTLS) or smtps://USER@HOST:465; empty: notices are kept, undelivered (env TOLLGATE_SMTP)")
	fs.StringVar(&c.MailFrom, "mail-from", "", "sender address of notice e-mail, e.g. tollgate@example.com (env TOLLGATE_MAIL_FROM)")
	fs.StringVar(&c.SMTPPasswordFile, "smtp-password-file", "", "file holding the password of --smtp's user (env TOLLGATE_SMTP_PASSWORD_FILE)")
	fs.StringVar(&c.SMTPCA, "smtp-ca", "", "PEM CA bundle to trust for the --smtp server; default the system roots (env TOLLGATE_SMTP_CA)")
	fs.StringVar(&c.PublicURL, "public-url", "", "the console's address as people reach it, for e-mailed invitation links, e.g. https://licenses.example.com; default the --http address (env TOLLGATE_PUBLIC_URL)")
	fs.DurationVar(&c.MailInterval, "mail-interval", c.MailInterval, "how often due notice e-mail is sent")
	fs.DurationVar(&c.SchedulerInterval, "scheduler-interval", c.SchedulerInterval, "how often renewals and expiries are applied")
	fs.DurationVar(&c.SchedulerLease, "scheduler-lease", c.SchedulerLease, "with several replicas on one database, how long the scheduler's lease lasts unrenewed: the longest another replica waits to take over from one that died (3s..10m)")
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", false, "let webhook URLs reach loopback, link-local and private addresses (tests, receivers on the operator's own network); off, they are refused (env TOLLGATE_WEBHOOK_ALLOW_PRIVATE)")
	fs.DurationVar(&c.WebhookRetryBase, "webhook-retry-base", c.WebhookRetryBase, "wait after a webhook delivery's first failed attempt, doubling with each further failure up to 6h; deliveries are retried for 3 days (env TOLLGATE_WEBHOOK_RETRY_BASE)")
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

// runServe opens the server (app.New), prints where it listens and serves
// until ctx ends.
func runServe(ctx context.Context, env *IO, args []string) error {
	c, err := parseServe(args)
	if err != nil {
		return err
	}
	level, _ := c.Level()
	log := slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	a, err := app.New(ctx, c, app.Deps{Clock: env.Clock, Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "http: %s\n", a.HTTPURL())
	if mqtt := a.MQTTAddr(); mqtt != "" {
		fmt.Fprintf(env.Stdout, "mqtt: %s\n", mqtt)
	}
	return a.Run(ctx)
}
