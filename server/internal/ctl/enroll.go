package ctl

import (
	"context"
	"flag"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Enrollment codes (docs/server.md "Online activation"): devices that
// present one register themselves under the customer.
func runEnrollmentCreate(ctx context.Context, x *invocation) error {
	if x.s("customer") == "" {
		return cli.Usagef("enrollment create: --customer is required")
	}
	secs, err := expiresIn(x.s("expires-in"))
	if err != nil {
		return err
	}
	if err := checkModelsNotFiles(splitList(x.s("models"))); err != nil {
		return err
	}
	req := wire.CreateEnrollmentRequest{CustomerID: x.s("customer"), Models: splitList(x.s("models")), Uses: x.n("uses"),
		ExpiresInSeconds: secs, LicensePool: x.b("license-pool")}
	var e wire.Enrollment
	if err := x.c.Do(ctx, "POST", "/v1/enrollments", req, &e); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, e, append(enrollmentHeader, "CODE"), [][]string{append(enrollmentRow(&e), e.Code)})
}

func enrollmentCreateFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "customer", "customer the devices register under")
	v.str(fs, "models", "model patterns that may enroll (default: any)")
	v.num(fs, "uses", "devices that may enroll (default 0: no limit)")
	v.str(fs, "expires-in", "the code ends this long from now, e.g. 30d or 72h (default: never)")
	v.flag(fs, "license-pool", "each enrolling device takes an unused license of the customer that fits its model")
}

func runEnrollmentList(ctx context.Context, x *invocation) error {
	q := url.Values{}
	if c := x.s("customer"); c != "" {
		q.Set("customer", c)
	}
	var l wire.EnrollmentList
	if err := x.c.Do(ctx, "GET", "/v1/enrollments?"+q.Encode(), nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Enrollments))
	for i := range l.Enrollments {
		rows[i] = enrollmentRow(&l.Enrollments[i])
	}
	return cli.Render(x.out, x.format, l, enrollmentHeader, rows)
}

func enrollmentListFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "customer", "customer id (default: your own)")
}

func runEnrollmentRevoke(ctx context.Context, x *invocation) error {
	var e wire.Enrollment
	if err := x.c.Do(ctx, "POST", "/v1/enrollments/"+esc(x.args[0])+"/revoke", nil, &e); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, e, enrollmentHeader, [][]string{enrollmentRow(&e)})
}

var enrollmentHeader = []string{"ID", "CUSTOMER", "HINT", "STATUS", "USES", "MODELS", "EXPIRES", "LICENSE_POOL"}

func enrollmentRow(e *wire.Enrollment) []string {
	uses := strconv.FormatInt(e.Uses, 10) + "/"
	if e.MaxUses == 0 {
		uses += "-"
	} else {
		uses += strconv.FormatInt(e.MaxUses, 10)
	}
	return []string{e.ID, e.CustomerID, e.Hint + "…", e.Status, uses, dash(strings.Join(e.Models, ",")), day(e.ExpiresAt),
		strconv.FormatBool(e.LicensePool)}
}

// expiresIn reads --expires-in: empty or 0 (never), a number of days (30d)
// or a Go duration (72h), in seconds.
func expiresIn(s string) (int64, error) {
	bad := cli.Usagef("--expires-in %q: want e.g. 30d or 72h", s)
	switch {
	case s == "" || s == "0":
		return 0, nil
	case strings.HasSuffix(s, "d"):
		d, err := strconv.ParseInt(strings.TrimSuffix(s, "d"), 10, 64)
		if err != nil || d < 1 || d*86400 > wire.MaxEnrollmentSeconds {
			return 0, bad
		}
		return d * 86400, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || int64(d/time.Second) > wire.MaxEnrollmentSeconds {
		return 0, bad
	}
	return int64(d / time.Second), nil
}
