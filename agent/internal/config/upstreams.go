package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Several addresses of one license server and its brokers (docs/agent.md
// "Several servers and brokers"): `broker` and `server` may each list the
// addresses of a server's replicas, comma-separated, in the order to try
// them. The agent moves to the next when one is down.

// MaxUpstreams bounds how many addresses `broker` or `server` may list.
const MaxUpstreams = 8

// SplitList splits a comma-separated list, trimming white space and
// dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Brokers are the upstream broker's addresses, in the order to try them.
func (c *Config) Brokers() []string { return SplitList(c.Broker) }

// Servers are the license server's addresses, in the order to try them.
func (c *Config) Servers() []string { return SplitList(c.Server) }

// checkList validates a list of addresses with check: at most
// MaxUpstreams, none twice.
func checkList(what, s string, check func(string) error) error {
	items := SplitList(s)
	if len(items) > MaxUpstreams {
		return fmt.Errorf("%w: %s lists %d addresses, at most %d", ErrInvalid, what, len(items), MaxUpstreams)
	}
	seen := map[string]bool{}
	for _, item := range items {
		if seen[item] {
			return fmt.Errorf("%w: %s lists %q twice", ErrInvalid, what, item)
		}
		seen[item] = true
		if err := check(item); err != nil {
			return err
		}
	}
	return nil
}

// CheckServerURL accepts http://HOST[:PORT] or https://HOST[:PORT] (a
// path prefix allowed), without credentials, query or fragment.
func CheckServerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: server %q must be https://HOST[:PORT] or http://HOST[:PORT]", ErrInvalid, s)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%w: server scheme %q: want https or http", ErrInvalid, u.Scheme)
	}
	return nil
}
