package app

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/broker"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/ident"
)

// The broker cluster of serve (docs/deploy.md "The broker cluster"): with
// --cluster the embedded broker listens for routes there, joins the
// members --routes names, and authenticates routes with the secret in
// --cluster-secret-file.

// maxClusterSecretFileBytes bounds --cluster-secret-file.
const maxClusterSecretFileBytes = 4096

// clustered reports whether serve joins a broker cluster.
func (c *Config) clustered() bool { return c.ClusterAddr != "" }

// checkCluster validates the cluster flags (the secret file is read when
// the broker starts).
func (c *Config) checkCluster() error {
	if !c.clustered() {
		if c.Routes != "" || c.ServerName != "" || c.ClusterSecretFile != "" {
			return fmt.Errorf("--routes, --server-name and --cluster-secret-file need --cluster")
		}
		return nil
	}
	if c.external() {
		return fmt.Errorf("--cluster joins the embedded broker to others; with --broker %s the external broker is the cluster", c.Broker)
	}
	if c.MQTTAddr == "" {
		return fmt.Errorf("--cluster needs the embedded broker: give --mqtt too")
	}
	if c.ClusterSecretFile == "" {
		return fmt.Errorf("--cluster needs --cluster-secret-file: a file holding a random secret (at least %d characters) that every member shares", broker.MinClusterSecretLen)
	}
	host, port, err := net.SplitHostPort(c.ClusterAddr)
	if err != nil {
		return fmt.Errorf("--cluster %q: %v", c.ClusterAddr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("--cluster %q: port must be 1..65535 (the other members' --routes name it)", c.ClusterAddr)
	}
	if host == "" {
		return fmt.Errorf("--cluster %q: give the address to listen on, e.g. 10.0.0.5:6222", c.ClusterAddr)
	}
	routes := c.routeList()
	if len(routes) > broker.MaxRoutes {
		return fmt.Errorf("--routes: %d routes, at most %d", len(routes), broker.MaxRoutes)
	}
	for _, r := range routes {
		if _, err := broker.ParseRoute(r); err != nil {
			return fmt.Errorf("--routes: %v", err)
		}
	}
	if c.ServerName != "" {
		if err := ident.CheckID("--server-name", c.ServerName); err != nil {
			return err
		}
	}
	return nil
}

// routeList splits --routes.
func (c *Config) routeList() []string {
	var out []string
	for _, r := range strings.Split(c.Routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// clusterConfig is the broker's cluster configuration, or nil without
// --cluster. The secret file must be readable by its owner only.
func (c *Config) clusterConfig() (*broker.ClusterConfig, error) {
	if !c.clustered() {
		return nil, nil
	}
	st, err := os.Stat(c.ClusterSecretFile)
	if err != nil {
		return nil, cli.Errorf("cluster_secret", "--cluster-secret-file: %v", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, cli.Errorf("cluster_secret", "--cluster-secret-file %s is readable by others (mode %04o): chmod 600 it", c.ClusterSecretFile, st.Mode().Perm())
	}
	b, err := readBounded(c.ClusterSecretFile, maxClusterSecretFileBytes)
	if err != nil {
		return nil, cli.Errorf("cluster_secret", "--cluster-secret-file: %v", err)
	}
	host, port, _ := net.SplitHostPort(c.ClusterAddr)
	p, _ := strconv.Atoi(port)
	name := c.ServerName
	if name == "" {
		name = defaultServerName(p)
	}
	cc := &broker.ClusterConfig{ServerName: name, Host: host, Port: p, Routes: c.routeList(),
		Secret: string(bytes.TrimRight(b, "\r\n"))}
	if err := cc.Validate(); err != nil {
		return nil, cli.Errorf("cluster", "%v", err)
	}
	return cc, nil
}

// defaultServerName is the host name and the route port: unique as long
// as no two members share both.
func defaultServerName(port int) string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "tollgate"
	}
	var b strings.Builder
	for _, r := range h {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := b.String()
	if len(name) > 40 {
		name = name[:40]
	}
	return name + "-" + strconv.Itoa(port)
}
