package cli

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/cli"
)

// agentStatus serves an agent's GET /v1/status (only what discovery reads).
func agentStatus(t *testing.T, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestDiscover(t *testing.T) {
	dev := agentStatus(t, `{"device_id":"press-01"}`)
	gw1 := agentStatus(t, `{"device_id":"gw-01","children":[{"device_id":"a1"},{"device_id":"a2"},{"device_id":"a3"}]}`)
	gw2 := agentStatus(t, `{"device_id":"gw-02","children":[{"device_id":"b1"},{"device_id":"b2"}]}`)
	targets := []targetArg{{"agent", dev}, {"agent", gw1}, {"agent", gw2}}
	for _, tc := range []struct {
		name     string
		cfg      Config
		want     string // device ids by agent, "|" between agents; "http"/"bridge" marks
		code     string
		usageErr bool
	}{
		{name: "ok/all", cfg: Config{Gateways: -1}, want: "press-01:http|a1:http,a2:http,a3:http|b1:http,b2:http"},
		{name: "ok/bridges", cfg: Config{Gateways: -1, Bridges: []string{"tcp://l:1", "tcp://l:2"}}, want: "press-01:http|a1:bridge,a2:bridge,a3:bridge|b1:bridge,b2:bridge"},
		{name: "ok/one-gateway", cfg: Config{Gateways: 1}, want: "press-01:http|a1:http,a2:http,a3:http"},
		{name: "ok/no-gateway", cfg: Config{Gateways: 0}, want: "press-01:http"},
		{name: "ok/devices", cfg: Config{Gateways: -1, Devices: 3}, want: "press-01:http|a1:http,a2:http"},
		{name: "ok/devices-all", cfg: Config{Gateways: -1, Devices: 6}, want: "press-01:http|a1:http,a2:http,a3:http|b1:http,b2:http"},
		{name: "error/devices", cfg: Config{Gateways: -1, Devices: 7}, code: "fleet_too_small"},
		{name: "error/gateways", cfg: Config{Gateways: 3}, code: "fleet_too_small"},
		{name: "error/bridges", cfg: Config{Gateways: -1, Bridges: []string{"tcp://l:1"}}, usageErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agents, err := discover(context.Background(), &tc.cfg, targets)
			var ce *cli.Error
			var ue *cli.UsageError
			switch {
			case tc.code != "":
				if !errors.As(err, &ce) || ce.Code != tc.code {
					t.Fatalf("err = %v, want code %s", err, tc.code)
				}
				return
			case tc.usageErr:
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			var parts []string
			for _, a := range agents {
				var ids []string
				for _, d := range a.Devices {
					ids = append(ids, d.ID+":"+string(d.Via))
				}
				parts = append(parts, strings.Join(ids, ","))
			}
			if got := strings.Join(parts, "|"); got != tc.want {
				t.Fatalf("devices %q, want %q", got, tc.want)
			}
		})
	}
}
