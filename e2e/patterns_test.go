package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestPatterns drives one device per pattern through a real agent whose
// license allows 40 samples/hour (960 per rolling 24 hours), at 40
// samples/hour on average: shift8h (120 an hour during 06:00–14:00) and
// burst (160 in one minute every 4 hours) stay within the budget, as SPEC
// §3 intends for a machine that runs part of the day, and the agent's
// hourly counts show when the samples came.
func TestPatterns(t *testing.T) {
	t.Parallel()
	const (
		rate  = 40
		speed = 7200 // 2 simulated hours per second
		days  = 2
	)
	dir := t.TempDir()
	li := newLocalIssuer(t, dir)
	_, up := start(t, "firmware-sim", []string{"--local-broker", "127.0.0.1:0", "--local-broker-dir", filepath.Join(dir, "up")}, "local broker listening on ")
	origin := wall.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	for i, pattern := range []string{"shift8h", "burst"} {
		t.Run(pattern, func(t *testing.T) {
			t.Parallel()
			id := "machine-" + pattern
			data := filepath.Join(dir, id)
			var doc map[string]string
			json.Unmarshal([]byte(run(t, nil, "tollgate-agent", "init", "--data", data, "--device-id", id, "--model", "press-p1", "--trust", li.Trust, "-o", "json")), &doc)
			pub, err := token.ParsePublicKey(doc["public_key"])
			if err != nil {
				t.Fatal(err)
			}
			run(t, nil, "tollgate-agent", "activate", "--data", data, li.issue(i+1, id, pub, "press-*", rate))
			_, addr := start(t, "tollgate-agent", []string{"run", "--data", data, "--broker", up[0], "--ingest", "127.0.0.1:0",
				"--clock-speed", fmt.Sprint(speed), "--clock-origin", origin}, "ingest listening on ")
			out, errOut, err := runErr(nil, "firmware-sim", "--agent", addr[0], "--pattern", pattern, "--rate", fmt.Sprint(rate),
				"--duration", fmt.Sprintf("%dd", days), "--clock-speed", fmt.Sprint(speed), "--clock-origin", origin, "--tick", "20ms", "-o", "json", "--quiet")
			if err != nil {
				t.Fatalf("firmware-sim: %v\n%s", err, errOut)
			}
			var sum summary
			if err := json.Unmarshal([]byte(out), &sum); err != nil || len(sum.Devices) != 1 {
				t.Fatalf("%v\n%s", err, out)
			}
			d := sum.Devices[0]
			// Each day carries rate × 24 samples (± the hours cut at the run's
			// ends), all within the budget but for the few a late batch moves
			// into the next hour's bucket.
			if d.Sent < (days*24-8)*rate || d.Sent > days*24*rate+4*rate {
				t.Errorf("sent %d, want about %d", d.Sent, days*24*rate)
			}
			if d.Accepted < d.Sent*98/100 || d.Refused != d.Reasons["over_budget"] {
				t.Errorf("%s within its budget: %+v", pattern, d)
			}
			// When the samples came, by the agent's own hourly counts.
			var st struct {
				Budget struct {
					AcceptedTotal int64 `json:"accepted_total"`
				} `json:"budget"`
				Hourly []struct {
					Hour     string `json:"hour"`
					Accepted int64  `json:"accepted"`
				} `json:"hourly"`
			}
			resp, err := http.Get("http://" + addr[0] + "/v1/status")
			if err != nil {
				t.Fatal(err)
			}
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			var inside, outside int64
			for _, h := range st.Hourly {
				at, err := time.Parse(time.RFC3339, h.Hour)
				if err != nil {
					t.Fatalf("hour %q: %v", h.Hour, err)
				}
				ok := false
				switch pattern {
				case "shift8h": // 06:00–13:59, and what a late batch carries into 14:00
					ok = at.Hour() >= 6 && at.Hour() <= 14
				case "burst": // the bursting hours, and the next for a late batch
					ok = at.Hour()%4 == 0 || at.Hour()%4 == 1
				}
				if ok {
					inside += h.Accepted
				} else {
					outside += h.Accepted
					t.Errorf("%s: %d samples counted in hour %s", pattern, h.Accepted, h.Hour)
				}
			}
			t.Logf("%s: sent %d, accepted %d, refused %v; %d hourly buckets", pattern, d.Sent, d.Accepted, d.Reasons, len(st.Hourly))
			if len(st.Hourly) == 0 || inside != d.Accepted || outside != 0 || st.Budget.AcceptedTotal != d.Accepted {
				t.Errorf("hourly counts: %d inside the pattern's hours, %d outside, total %d; firmware-sim saw %d accepted",
					inside, outside, st.Budget.AcceptedTotal, d.Accepted)
			}
		})
	}
}
