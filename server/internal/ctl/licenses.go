package ctl

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func licenseCreateFlags(fs *flag.FlagSet, v *vals) {
	for _, f := range []string{"customer", "type", "billing", "models", "enforcement", "features", "max-offline", "alignment",
		"distributor-description", "customer-description"} {
		v.str(fs, f, strings.ReplaceAll(f, "-", " "))
	}
	for _, f := range []string{"months", "days", "max-samples-per-hour", "count", "max-children", "start-at-children", "retention-days", "cancellation-days"} {
		v.num(fs, f, strings.ReplaceAll(f, "-", " "))
	}
	v.flag(fs, "no-renew", "do not renew at the end of the term")
}

// licenseListFilters are the flags of license list, each sent as the
// query parameter of the same name (dashes as underscores).
var licenseListFilters = []string{"customer", "status", "type", "billing", "device", "expiring-within", "serial-prefix",
	"locked", "days-min", "days-max", "description", "activated-from", "activated-to", "ends-from", "ends-to"}

func runLicenseList(ctx context.Context, x *invocation) error {
	var l wire.LicenseList
	if err := x.c.Do(ctx, "GET", "/v1/licenses?"+x.query(licenseListFilters...), nil, &l); err != nil {
		return err
	}
	x.more(l.NextCursor)
	return x.licenses(l, l.Licenses)
}

func runLicenseBind(ctx context.Context, x *invocation) error {
	var r wire.BindResponse
	err := x.c.Do(ctx, "POST", "/v1/licenses/"+esc(x.args[0])+"/bind", wire.BindRequest{DeviceID: x.s("device"), ExpireReplaced: x.b("expire-replaced")}, &r)
	if err != nil {
		return err
	}
	for _, old := range r.Replaced {
		fmt.Fprintf(x.errw, "replaced license %s (now %s)\n", old.ID, old.Status)
	}
	return cli.Render(x.out, x.format, r, licenseHeader, [][]string{licenseRow(&r.License)})
}

func licenseBindFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "device", "device id")
	v.flag(fs, "expire-replaced", "switch renewal off on the license this bind replaces")
}

func runLicenseDelete(ctx context.Context, x *invocation) error {
	if err := x.c.Do(ctx, "DELETE", "/v1/licenses/"+esc(x.args[0]), nil, nil); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, map[string]string{"deleted": x.args[0]}, []string{"DELETED"}, [][]string{{x.args[0]}})
}

func runLicenseTransfer(ctx context.Context, x *invocation) error {
	var r wire.TransferResponse
	if err := x.c.Do(ctx, "POST", "/v1/licenses/"+esc(x.args[0])+"/transfer", wire.CustomerRef{To: x.s("to")}, &r); err != nil {
		return err
	}
	return x.licenses(r, []wire.License{r.Old, r.New})
}

func runLicenseRenew(ctx context.Context, x *invocation) error {
	if x.b("on") == x.b("off") {
		return cli.Usagef("license renew: give exactly one of --on and --off")
	}
	on := x.b("on")
	return licenseCall("POST", "/renew", func(*invocation) any { return wire.RenewRequest{Renew: &on} })(ctx, x)
}

func licenseRenewFlags(fs *flag.FlagSet, v *vals) {
	v.flag(fs, "on", "renew at the end")
	v.flag(fs, "off", "end at the end")
}

func licenseAddDaysFlags(fs *flag.FlagSet, v *vals) { v.num(fs, "days", "days to add") }

func licenseSetFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "customer-description", "customer-editable description")
	v.str(fs, "distributor-description", "description visible to the issuing chain only")
}

func runLicenseSell(ctx context.Context, x *invocation) error {
	return runBatch(ctx, x, "/v1/sales/sell", x.s("to"))
}

func runLicenseReturn(ctx context.Context, x *invocation) error {
	return runBatch(ctx, x, "/v1/sales/return", x.s("from"))
}

func runLicenseToken(ctx context.Context, x *invocation) error {
	var t wire.LicenseToken
	if err := x.c.Do(ctx, "GET", "/v1/licenses/"+esc(x.args[0])+"/token", nil, &t); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, t, tokenHeader, [][]string{tokenRow(&t)})
}

// licenseCall runs METHOD /v1/licenses/ID/SUFFIX with an optional body and
// shows the resulting license.
func licenseCall(method, suffix string, body func(*invocation) any) func(context.Context, *invocation) error {
	return func(ctx context.Context, x *invocation) error {
		var in any
		if body != nil {
			in = body(x)
		}
		var l wire.License
		if err := x.c.Do(ctx, method, "/v1/licenses/"+esc(x.args[0])+suffix, in, &l); err != nil {
			return err
		}
		return x.license(&l)
	}
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// parseDuration reads 0, a Go duration (72h) or a number of days (30d).
func parseDuration(s string) (int64, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.ParseInt(n, 10, 64)
		if err != nil || d < 0 || d > 3650 {
			return 0, cli.Usagef("--max-offline %q: want e.g. 30d, 72h or 0 (unlimited)", s)
		}
		return d * 86400, nil
	}
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, cli.Usagef("--max-offline %q: want e.g. 30d, 72h or 0 (unlimited)", s)
	}
	return int64(d / time.Second), nil
}

func runLicenseCreate(ctx context.Context, x *invocation) error {
	if err := checkModelsNotFiles(splitList(x.s("models"))); err != nil {
		return err
	}
	req := wire.CreateLicenseRequest{CustomerID: x.s("customer"), Type: x.s("type"), Billing: x.s("billing"),
		Months: int(x.n("months")), Days: x.n("days"), Models: splitList(x.s("models")), MaxSamplesPerHour: x.n("max-samples-per-hour"),
		Enforcement: x.s("enforcement"), Features: splitList(x.s("features")), MaxChildren: x.n("max-children"),
		StartAtChildren: x.n("start-at-children"),
		RetentionDays:   int(x.n("retention-days")), CancellationDays: int(x.n("cancellation-days")), Alignment: x.s("alignment"),
		DistributorDescription: x.s("distributor-description"), CustomerDescription: x.s("customer-description"), Count: int(x.n("count"))}
	if x.b("no-renew") {
		req.Renew = new(bool)
	}
	if x.set["max-offline"] {
		secs, err := parseDuration(x.s("max-offline"))
		if err != nil {
			return err
		}
		req.MaxOfflineSeconds = &secs
	}
	if err := req.Validate(); err != nil {
		return cli.Errorf("invalid_argument", "%v", err)
	}
	var l wire.LicenseList
	if err := x.c.Do(ctx, "POST", "/v1/licenses", req, &l); err != nil {
		return err
	}
	return x.licenses(l, l.Licenses)
}

func runLicenseSet(ctx context.Context, x *invocation) error {
	var req wire.UpdateLicenseRequest
	if x.set["customer-description"] {
		v := x.s("customer-description")
		req.CustomerDescription = &v
	}
	if x.set["distributor-description"] {
		v := x.s("distributor-description")
		req.DistributorDescription = &v
	}
	return licenseCall("PATCH", "", func(*invocation) any { return req })(ctx, x)
}

func batchFlags(customerFlag string) func(fs *flag.FlagSet, v *vals) {
	return func(fs *flag.FlagSet, v *vals) {
		v.str(fs, customerFlag, "customer id")
		v.str(fs, "ids", "comma-separated license ids")
		v.num(fs, "count", "number of unused licenses, oldest first")
		v.str(fs, "type", "with --count: standard (default) or trial")
	}
}

func runBatch(ctx context.Context, x *invocation, path, customer string) error {
	var s wire.Sale
	req := wire.BatchRequest{Customer: customer, IDs: splitList(x.s("ids")), Count: int(x.n("count")), Type: x.s("type")}
	if err := x.c.Do(ctx, "POST", path, req, &s); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, s, saleHeader, [][]string{saleRow(&s)})
}

func runDeductions(ctx context.Context, x *invocation) error {
	var l wire.DeductionList
	if err := x.c.Do(ctx, "GET", "/v1/licenses/"+esc(x.args[0])+"/deductions", nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Deductions))
	for i := range l.Deductions {
		rows[i] = deductionRow(&l.Deductions[i])
	}
	return cli.Render(x.out, x.format, l, deductionHeader, rows)
}

var deductionHeader = []string{"SEQ", "DEVICE", "LICENSE", "AT", "REPORTED_AT", "PAID_UNTIL", "DAYS_BEFORE", "DAYS_AFTER", "RESULT", "FORK"}

// deductionRow shows a failed day (no license could pay: the device was
// blacklisted) as RESULT failed with no license and no days.
func deductionRow(d *wire.Deduction) []string {
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	result, before, after := "charged", strconv.FormatInt(d.DaysBefore, 10), strconv.FormatInt(d.DaysAfter, 10)
	if d.Failed {
		result, before, after = "failed", "-", "-"
	}
	fork := ""
	if d.Fork {
		fork = "fork"
	}
	return []string{strconv.FormatInt(d.Seq, 10), d.DeviceID, dash(d.LicenseID), d.At.UTC().Format(time.RFC3339),
		ts(d.ReportedAt), ts(d.PaidUntil), before, after, result, dash(fork)}
}

func toFlag(fs *flag.FlagSet, v *vals) { v.str(fs, "to", "target customer id") }
