package ctl

import (
	"context"
	"flag"
	"net/url"
	"strconv"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func runCustomerCreate(ctx context.Context, x *invocation) error {
	if x.s("name") == "" {
		return cli.Usagef("customer create: --name is required")
	}
	var c wire.Customer
	err := x.c.Do(ctx, "POST", "/v1/customers", wire.CreateCustomerRequest{ID: x.s("id"), Name: x.s("name"),
		ParentID: x.s("parent"), Email: x.s("email"), Address: x.s("address"), VAT: x.s("vat")}, &c)
	if err != nil {
		return err
	}
	return cli.Render(x.out, x.format, c, customerHeader, [][]string{customerRow(&c)})
}

func customerCreateFlags(fs *flag.FlagSet, v *vals) {
	for _, f := range []string{"name", "parent", "email", "vat", "address", "id"} {
		v.str(fs, f, "customer "+f)
	}
}

func runCustomerList(ctx context.Context, x *invocation) error {
	var l wire.CustomerList
	if err := x.c.Do(ctx, "GET", "/v1/customers?"+x.query("parent"), nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Customers))
	for i := range l.Customers {
		rows[i] = customerRow(&l.Customers[i])
	}
	x.more(l.NextCursor)
	return cli.Render(x.out, x.format, l, customerHeader, rows)
}

func runCustomerShow(ctx context.Context, x *invocation) error {
	var c wire.Customer
	if err := x.c.Do(ctx, "GET", "/v1/customers/"+esc(x.args[0]), nil, &c); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, c, customerHeader, [][]string{customerRow(&c)})
}

func customerSetFlags(fs *flag.FlagSet, v *vals) {
	for _, f := range []string{"allow-superior-manage", "name", "email", "address", "vat"} {
		v.str(fs, f, "new "+f)
	}
	v.str(fs, "issuer", "grant (true) or withdraw (false) the right to create licenses (vendor only)")
	v.str(fs, "allowed-months", "term durations the issuer may create, comma-separated; \"\" or any: no limit (vendor only)")
	v.num(fs, "max-days", "most days a day license of the issuer may hold; 0: no limit (vendor only)")
}

func runCustomerSet(ctx context.Context, x *invocation) error {
	var req wire.UpdateCustomerRequest
	if x.set["allow-superior-manage"] {
		b, err := strconv.ParseBool(x.s("allow-superior-manage"))
		if err != nil {
			return cli.Usagef("--allow-superior-manage=true|false, not %q", x.s("allow-superior-manage"))
		}
		req.AllowSuperiorManage = &b
	}
	if err := issuerFlags(x, &req); err != nil {
		return err
	}
	for name, dst := range map[string]**string{"name": &req.Name, "email": &req.Email, "address": &req.Address, "vat": &req.VAT} {
		if x.set[name] {
			v := x.s(name)
			*dst = &v
		}
	}
	var c wire.Customer
	if err := x.c.Do(ctx, "PATCH", "/v1/customers/"+esc(x.args[0]), req, &c); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, c, customerHeader, [][]string{customerRow(&c)})
}

// issuerFlags reads --issuer, --allowed-months and --max-days.
func issuerFlags(x *invocation, req *wire.UpdateCustomerRequest) error {
	if x.set["issuer"] {
		b, err := strconv.ParseBool(x.s("issuer"))
		if err != nil {
			return cli.Usagef("--issuer=true|false, not %q", x.s("issuer"))
		}
		req.Issuer = &b
	}
	if x.set["allowed-months"] {
		months, err := parseMonths(x.s("allowed-months"))
		if err != nil {
			return err
		}
		req.AllowedMonths = &months
	}
	if x.set["max-days"] {
		n := x.n("max-days")
		req.MaxDays = &n
	}
	return nil
}

// parseMonths reads an --allowed-months value: month counts separated by
// commas, or "" / "any" for no limit (an empty list). The server checks
// the range; this bounds only what is sent.
func parseMonths(v string) ([]int, error) {
	months := []int{}
	if v == "" || v == "any" {
		return months, nil
	}
	parts := strings.Split(v, ",")
	if len(parts) > wire.MaxIssuerDurations {
		return nil, cli.Usagef("--allowed-months lists at most %d durations", wire.MaxIssuerDurations)
	}
	for _, p := range parts {
		m, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, cli.Usagef("--allowed-months takes month counts like 12,24, not %q", v)
		}
		months = append(months, m)
	}
	return months, nil
}

// pageFlags registers --limit, --cursor and the named string filters.
func pageFlags(filters ...string) func(fs *flag.FlagSet, v *vals) {
	return func(fs *flag.FlagSet, v *vals) {
		v.num(fs, "limit", "page size (1..1000, default 100)")
		v.str(fs, "cursor", "next page cursor printed by the previous page")
		for _, f := range filters {
			v.str(fs, f, "filter by "+f)
		}
	}
}

// query builds the query string of a listing from the set flags.
func (x *invocation) query(filters ...string) string {
	q := url.Values{}
	for _, f := range append(filters, "cursor") {
		if v, ok := x.v.s[f]; ok && *v != "" {
			q.Set(queryName(f), *v)
		}
	}
	if n, ok := x.v.i["limit"]; ok && *n != 0 {
		q.Set("limit", strconv.FormatInt(*n, 10))
	}
	return q.Encode()
}

func queryName(flagName string) string {
	out := []byte(flagName)
	for i, c := range out {
		if c == '-' {
			out[i] = '_'
		}
	}
	return string(out)
}
