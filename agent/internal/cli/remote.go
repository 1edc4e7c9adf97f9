package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/ingest"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// errRemote reports a running agent that could not be reached.
var errRemote = errors.New("the agent holds the data directory but its control address does not answer")

// remoteClient returns an HTTP client and base URL for the running agent,
// from the address `run` recorded in the data directory.
func remoteClient(data string, timeout time.Duration) (*http.Client, string, error) {
	b, err := os.ReadFile(runtime.AddrFile(data))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", errRemote, err)
	}
	addr := strings.TrimSpace(string(b))
	tr := &http.Transport{}
	base := "http://" + addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", p)
		}
		base = "http://agent"
	}
	return &http.Client{Transport: tr, Timeout: timeout}, base, nil
}

func remoteDo(ctx context.Context, cfg config.Config, method, path string, body, out any) error {
	return remoteDoWithin(ctx, cfg, limits.ControlTimeout, method, path, body, out)
}

// remoteDoWithin makes one request to the running agent's local API: JSON
// (the API refuses any other POST), with the local API token if one is
// configured.
func remoteDoWithin(ctx context.Context, cfg config.Config, timeout time.Duration, method, path string, body, out any) error {
	c, base, err := remoteClient(cfg.Data, timeout)
	if err != nil {
		return err
	}
	var token []byte
	if cfg.LocalTokenFile != "" {
		if token, err = ingest.LoadLocalToken(cfg.LocalTokenFile); err != nil {
			return err
		}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != nil {
		req.Header.Set("Authorization", "Bearer "+string(token))
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errRemote, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limits.MaxControlAnswerBytes))
	if err != nil {
		return fmt.Errorf("%w: %v", errRemote, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e wire.ErrorBody
		if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
			return &remoteError{code: e.Error.Code, msg: e.Error.Message}
		}
		return fmt.Errorf("%w: HTTP %d", errRemote, resp.StatusCode)
	}
	return json.Unmarshal(b, out)
}

type remoteError struct{ code, msg string }

func (e *remoteError) Error() string { return e.msg }

func remoteStatus(ctx context.Context, cfg config.Config) (runtime.Status, error) {
	var st runtime.Status
	err := remoteDo(ctx, cfg, http.MethodGet, "/v1/status", nil, &st)
	return st, asCLI(err)
}

func remoteActivate(ctx context.Context, cfg config.Config, docs []string) ([]runtime.Imported, error) {
	var out struct {
		Imported []runtime.Imported `json:"imported"`
	}
	err := remoteDo(ctx, cfg, http.MethodPost, "/v1/activate", map[string]any{"documents": docs}, &out)
	return out.Imported, asCLI(err)
}

func remoteSync(ctx context.Context, cfg config.Config) (runtime.SyncResult, error) {
	var out runtime.SyncResult
	err := remoteDoWithin(ctx, cfg, limits.ControlSyncTimeout, http.MethodPost, "/v1/sync", nil, &out)
	return out, asCLI(err)
}

func asCLI(err error) error {
	var re *remoteError
	if errors.As(err, &re) {
		return cliError(re.code, re.msg)
	}
	return err
}
