package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/drive"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/fleet"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

func i64(n int64) *int64 { return &n }

// fixture: a device agent over HTTP that ran out of days, and a gateway
// whose two bridged children were partly refused.
func fixture() []*drive.Agent {
	press := drive.NewDevice("press-01", drive.ViaHTTP)
	press.Sent, press.Accepted = 100, 70
	press.Refused["no_days"], press.Refused["blacklisted"] = 1, 29
	a := &drive.Agent{
		Target: &fleet.Target{Name: ".demo/press-01"}, Devices: []*drive.Device{press}, Settled: true,
		Before: &fleet.Status{Device: fleet.Device{DeviceID: "press-01", DeductionSeq: 2}},
		After: &fleet.Status{Device: fleet.Device{DeviceID: "press-01", DeductionSeq: 6, FailedDays: 1, Blacklisted: true, BlacklistReason: "no_days", // 3 days and the failed one
			Licenses: []fleet.License{{Billing: "days", Status: "no_days", AvailableDays: i64(0)}}}, Queue: fleet.Queue{Depth: 4}},
	}
	c1, c2 := drive.NewDevice("s1", drive.ViaBridge), drive.NewDevice("s2", drive.ViaBridge)
	c1.Sent, c2.Sent = 50, 50
	g := &drive.Agent{
		Target: &fleet.Target{Name: ".demo/gw-01"}, Bridge: "tcp://127.0.0.1:1", Devices: []*drive.Device{c1, c2},
		Before: &fleet.Status{Device: fleet.Device{DeviceID: "gw-01"}, Refused: map[string]int64{"no_license": 3},
			Children: []fleet.Device{{DeviceID: "s1", Budget: fleet.Budget{AcceptedTotal: 10}}, {DeviceID: "s2"}}},
		After: &fleet.Status{Device: fleet.Device{DeviceID: "gw-01"}, Refused: map[string]int64{"no_license": 23},
			Children: []fleet.Device{{DeviceID: "s1", Budget: fleet.Budget{AcceptedTotal: 60}}, {DeviceID: "s2", Budget: fleet.Budget{AcceptedTotal: 25}}}},
	}
	return []*drive.Agent{a, g}
}

func TestBuild(t *testing.T) {
	s := Build(Run{Pattern: "steady", Rate: 60, Speed: 3600, From: time.Unix(0, 0), To: time.Unix(3*86400, 0), Wall: 10 * time.Second, Drain: 10 * time.Second}, fixture())
	tot := s.Totals
	// Bridged: s1 accepted 50 of 50, s2 25 of 50; the gateway refused 20
	// (no_license), so 5 are unaccounted.
	if tot.Sent != 200 || tot.Accepted != 145 || tot.Refused != 50 || tot.Unaccounted != 5 || tot.Deductions != 3 ||
		tot.Queued != 4 || tot.Delivered != 141 || tot.Reasons["no_license"] != 20 || tot.Reasons["blacklisted"] != 29 {
		t.Fatalf("totals %+v", tot)
	}
	if s.SamplesPerSecond != 20 || s.DeliveredPerSecond != 7.05 || s.SimHours != 72 {
		t.Fatalf("rates %v %v, hours %v", s.SamplesPerSecond, s.DeliveredPerSecond, s.SimHours)
	}
	p := s.Devices[0]
	if !p.Blacklisted || p.Deductions != 3 || *p.AvailableDays != 0 || p.Refused != 30 || p.Licenses[0] != "days:no_days" {
		t.Fatalf("press-01 %+v", p)
	}
	if c := s.Devices[2]; c.Accepted != 25 || c.Refused != 25 || c.Reasons != nil {
		t.Fatalf("s2 %+v", c)
	}
}

func TestDeviceState(t *testing.T) {
	for _, tc := range []struct {
		d    DeviceSummary
		want string
	}{
		{DeviceSummary{Licenses: []string{"term:active"}}, "ok"},
		{DeviceSummary{Licenses: []string{"term:revoked", "days:active"}}, "ok"},
		{DeviceSummary{Licenses: []string{"term:revoked"}}, "cut off (revoked)"},
		{DeviceSummary{Licenses: []string{"days:no_days"}, Blacklisted: true, BlacklistReason: "no_days"}, "blacklisted (no_days)"},
		{DeviceSummary{Licenses: []string{}}, "no license"},
	} {
		if got := deviceState(tc.d); got != tc.want {
			t.Errorf("deviceState(%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestRender(t *testing.T) {
	s := Build(Run{Pattern: "steady", Rate: 60, Speed: 3600, From: time.Unix(0, 0), To: time.Unix(3*86400, 0), Wall: time.Second}, fixture())
	var b bytes.Buffer
	if err := Render(&b, cli.Table, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"blacklisted 29, no_days 1", "blacklisted (no_days)", "see gateway", "no license",
		"gateway gw-01 (.demo/gw-01): 2 children", "(no_license 20)", "3 days of simulated time", "5 bridged samples were not accounted"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := Render(&b, cli.JSON, s); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil || doc["totals"].(map[string]any)["accepted"].(float64) != 145 {
		t.Fatalf("json: %v\n%s", err, b.String())
	}
}
