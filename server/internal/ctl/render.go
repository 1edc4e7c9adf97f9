package ctl

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func day(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var licenseHeader = []string{"ID", "SERIAL", "CUSTOMER", "TYPE", "BILLING", "STATUS", "DEVICE", "MODELS", "MAX/H", "RENEW", "END", "DAYS", "VERSION"}

func licenseRow(l *wire.License) []string {
	days := "-"
	if l.Billing == "days" {
		days = fmt.Sprintf("%d/%d", l.AvailableDays, l.TotalDays)
	}
	return []string{l.ID, l.Serial, l.CustomerID, l.Type, l.Billing, l.Status, dash(l.DeviceID), strings.Join(l.Models, ","),
		strconv.FormatInt(l.MaxSamplesPerHour, 10), strconv.FormatBool(l.Renew), day(l.End), days, strconv.FormatInt(l.Version, 10)}
}

func (x *invocation) licenses(doc any, ls []wire.License) error {
	rows := make([][]string, len(ls))
	for i := range ls {
		rows[i] = licenseRow(&ls[i])
	}
	return cli.Render(x.out, x.format, doc, licenseHeader, rows)
}

func (x *invocation) license(l *wire.License) error {
	return cli.Render(x.out, x.format, l, licenseHeader, [][]string{licenseRow(l)})
}

var customerHeader = []string{"ID", "NAME", "PARENT", "EMAIL", "VAT", "ALLOW_SUPERIOR_MANAGE", "ISSUER", "ALLOWED_MONTHS", "MAX_DAYS"}

func customerRow(c *wire.Customer) []string {
	months, maxDays := "-", "-"
	if l := c.IssuerLimits; l != nil {
		months, maxDays = "any", "any"
		if len(l.AllowedMonths) > 0 {
			ms := make([]string, len(l.AllowedMonths))
			for i, m := range l.AllowedMonths {
				ms[i] = strconv.Itoa(m)
			}
			months = strings.Join(ms, ",")
		}
		if l.MaxDays > 0 {
			maxDays = strconv.FormatInt(l.MaxDays, 10)
		}
	}
	return []string{c.ID, c.Name, dash(c.ParentID), dash(c.Email), dash(c.VAT), strconv.FormatBool(c.AllowSuperiorManage),
		strconv.FormatBool(c.Issuer), months, maxDays}
}

var deviceHeader = []string{"ID", "CUSTOMER", "MODEL", "GATEWAY", "BLACKLISTED", "REASON"}

func deviceRow(d *wire.Device) []string {
	return []string{d.ID, d.CustomerID, d.Model, dash(d.GatewayID), strconv.FormatBool(d.Blacklisted), dash(d.BlacklistReason)}
}

var userHeader = []string{"ID", "CUSTOMER", "EMAIL", "ROLE", "REVOKED"}

func userRow(u *wire.User) []string {
	return []string{u.ID, u.CustomerID, u.Email, u.Role, strconv.FormatBool(u.Revoked)}
}

var saleHeader = []string{"ID", "KIND", "FROM", "TO", "COUNT", "LICENSES", "AT", "BY"}

func saleRow(s *wire.Sale) []string {
	return []string{strconv.FormatInt(s.ID, 10), s.Kind, s.From, s.To, strconv.Itoa(len(s.LicenseIDs)),
		strings.Join(s.LicenseIDs, ","), s.At.UTC().Format(time.RFC3339), s.By}
}

var tokenHeader = []string{"LICENSE", "DEVICE", "VERSION", "NOT_AFTER", "TOKEN"}

func tokenRow(t *wire.LicenseToken) []string {
	return []string{t.LicenseID, t.DeviceID, strconv.FormatInt(t.Version, 10), t.NotAfter.UTC().Format(time.RFC3339), t.Token}
}

// more tells a table reader that a listing has another page.
func (x *invocation) more(next string) {
	if next != "" && x.format != cli.JSON {
		fmt.Fprintf(x.errw, "more results: repeat with --cursor %s\n", next)
	}
}
