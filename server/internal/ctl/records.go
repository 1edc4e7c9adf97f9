package ctl

import (
	"context"
	"flag"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// salesListFilters are the flags of sales list, sent as query parameters.
var salesListFilters = []string{"from", "to", "license", "method"}

func runSalesList(ctx context.Context, x *invocation) error {
	var l wire.SaleList
	if err := x.c.Do(ctx, "GET", "/v1/sales?"+x.query(salesListFilters...), nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Sales))
	for i := range l.Sales {
		rows[i] = saleRow(&l.Sales[i])
	}
	x.more(l.NextCursor)
	return cli.Render(x.out, x.format, l, saleHeader, rows)
}

func runAuditList(ctx context.Context, x *invocation) error {
	var l wire.AuditList
	if err := x.c.Do(ctx, "GET", "/v1/audit?"+x.query(), nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Entries))
	for i, e := range l.Entries {
		rows[i] = []string{strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(time.RFC3339), e.UserID, e.Action, e.ObjectType, e.ObjectID}
	}
	x.more(l.NextCursor)
	return cli.Render(x.out, x.format, l, []string{"SEQ", "AT", "USER", "ACTION", "OBJECT", "ID"}, rows)
}

func revocationShowFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "device", "device whose signed list to show")
}

// runRevocationShow shows the revocation list's current sequence, or with
// --device the list signed for that device (each device gets its own).
func runRevocationShow(ctx context.Context, x *invocation) error {
	if dev := x.s("device"); dev != "" {
		var r wire.RevocationList
		if err := x.c.Do(ctx, "GET", "/v1/devices/"+esc(dev)+"/revocation-list", nil, &r); err != nil {
			return err
		}
		return cli.Render(x.out, x.format, r, []string{"DEVICE", "SEQ", "ISSUED_AT", "NEXT_UPDATE", "REVOKED", "SUSPENDED", "BLACKLISTED", "SUPERSEDED", "TOKEN"},
			[][]string{{r.DeviceID, strconv.FormatInt(r.Seq, 10), r.IssuedAt.UTC().Format(time.RFC3339), r.NextUpdate.UTC().Format(time.RFC3339),
				strconv.Itoa(r.Revoked), strconv.Itoa(r.Suspended), strconv.Itoa(r.Blacklist), strconv.Itoa(r.Superseded), r.Token}})
	}
	var h wire.RevocationHead
	if err := x.c.Do(ctx, "GET", "/v1/revocation-list", nil, &h); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, h, []string{"SEQ", "ISSUED_AT", "NEXT_UPDATE"},
		[][]string{{strconv.FormatInt(h.Seq, 10), h.IssuedAt.UTC().Format(time.RFC3339), h.NextUpdate.UTC().Format(time.RFC3339)}})
}

func runWhoami(ctx context.Context, x *invocation) error {
	var w wire.WhoAmI
	if err := x.c.Do(ctx, "GET", "/v1/whoami", nil, &w); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, w, []string{"USER", "CUSTOMER", "ROLE"}, [][]string{{w.UserID, w.CustomerID, w.Role}})
}
