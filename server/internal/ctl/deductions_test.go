package ctl

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestDeductionsListTheFailedDay: a one-day license pays seq 1; seq 2 finds
// no days, fails and blacklists the device with a reason naming deduction
// 2. license deductions lists that failed day beside the paid one (real
// router, real ledger).
func TestDeductionsListTheFailedDay(t *testing.T) {
	_, lg, clk := realServer(t)
	pub, _, _ := ed25519.GenerateKey(nil)
	mustRun(t, "device", "create", "--customer", "root", "--id", "press-01", "--model", "sensor-a",
		"--public-key", base64.RawURLEncoding.EncodeToString(pub))
	var ls wire.LicenseList
	if err := json.Unmarshal([]byte(mustRun(t, "license", "create", "--customer", "root", "--type", "standard", "--billing", "days",
		"--days", "1", "--models", "sensor-*", "-o", "json")), &ls); err != nil || len(ls.Licenses) != 1 {
		t.Fatalf("license create: %v %+v", err, ls)
	}
	id := ls.Licenses[0].ID
	mustRun(t, "license", "bind", id, "--device", "press-01")
	ctx := context.Background()
	if _, err := lg.Deduct(ctx, ledger.DeductInput{DeviceID: "press-01", Seq: 1, At: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(25 * time.Hour)
	if _, err := lg.Deduct(ctx, ledger.DeductInput{DeviceID: "press-01", Seq: 2, At: clk.Now()}); !errors.Is(err, ledger.ErrNoDaysLeft) {
		t.Fatalf("second day: %v, want no days left", err)
	}
	var dev wire.Device
	if err := json.Unmarshal([]byte(mustRun(t, "device", "show", "press-01", "-o", "json")), &dev); err != nil ||
		!strings.Contains(dev.BlacklistReason, "deduction 2") {
		t.Fatalf("device: %+v %v", dev, err)
	}

	var l wire.DeductionList
	if err := json.Unmarshal([]byte(mustRun(t, "license", "deductions", id, "-o", "json")), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Deductions) != 2 || l.Deductions[0].Failed || !l.Deductions[1].Failed || l.Deductions[1].Seq != 2 || l.Deductions[1].DeviceID != "press-01" {
		t.Fatalf("deductions: %+v", l.Deductions)
	}
	table := mustRun(t, "license", "deductions", id)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "RESULT") || !strings.Contains(lines[0], "FORK") ||
		!strings.HasPrefix(lines[2], "2 ") || !strings.Contains(lines[2], " failed ") {
		t.Fatalf("table:\n%s", table)
	}
}
