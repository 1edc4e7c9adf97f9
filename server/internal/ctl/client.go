package ctl

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// maxAnswerBytes bounds what the client reads from the server.
const maxAnswerBytes = 32 << 20

// Client calls the admin REST API with the same wire types the server uses.
type Client struct {
	Base string
	Key  string
	HTTP *http.Client
}

// NewClient returns a client for base (e.g. http://127.0.0.1:8080). caFile,
// if set, is a PEM bundle trusted for an https server (e.g. certs/dev/ca.crt).
func NewClient(base, key, caFile string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, cli.Usagef("--server %q: want http://HOST:PORT or https://HOST:PORT", base)
	}
	if key == "" {
		return nil, cli.Usagef("no API key: pass --api-key or set TOLLGATE_API_KEY")
	}
	hc := &http.Client{Timeout: 60 * time.Second}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, cli.Errorf("io", "--ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, cli.Errorf("invalid_argument", "--ca %s holds no PEM certificate", caFile)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	return &Client{Base: strings.TrimRight(base, "/"), Key: key, HTTP: hc}, nil
}

// Do sends in (nil for no body) as JSON and decodes the answer into out.
// Error answers become *cli.Error with the server's code.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	if in == nil {
		return c.send(ctx, method, path, "", nil, out)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.send(ctx, method, path, "application/json", b, out)
}

// DoText sends body as text/plain (an armored file) and decodes the JSON
// answer into out.
func (c *Client) DoText(ctx context.Context, method, path string, body []byte, out any) error {
	return c.send(ctx, method, path, "text/plain", body, out)
}

// send sends body (none when ctype is empty) and decodes the answer.
func (c *Client) send(ctx context.Context, method, path, ctype string, b []byte, out any) error {
	var body io.Reader
	if ctype != "" {
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return cli.Errorf("invalid_argument", "%v", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return cli.Errorf("unavailable", "%s: %v", c.Base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return cli.Errorf("unavailable", "reading the answer: %v", err)
	}
	if resp.StatusCode >= 300 {
		var eb wire.ErrorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
			// A server that repeats its code in the message is printed with the code once.
			msg, _ := strings.CutPrefix(eb.Error.Message, strings.ReplaceAll(eb.Error.Code, "_", " ")+": ")
			return cli.Errorf(eb.Error.Code, "%s", msg)
		}
		return cli.Errorf(fmt.Sprintf("http_%d", resp.StatusCode), "%s %s: %s", method, path, strings.TrimSpace(string(raw)))
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return cli.Errorf("bad_answer", "%s %s: %v", method, path, err)
	}
	return nil
}

func esc(s string) string { return url.PathEscape(s) }
