package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestRenewalReportOverHTTP renews the world's 12-month license at its
// period end and reads the renewal back for the issuer, with the chain up
// to the issuer and its description, and for the owner without it.
func TestRenewalReportOverHTTP(t *testing.T) {
	e := newAPIEnv(t)
	lic := e.world()
	end := lic.End.UTC()
	e.clk.Set(end.Add(time.Hour))
	if n, _, err := e.lg.ApplyDue(context.Background()); err != nil || n < 1 {
		t.Fatalf("ApplyDue: %d renewed, %v", n, err)
	}
	day := end.Format(time.DateOnly)
	next := end.AddDate(0, 0, 1).Format(time.DateOnly)
	var r wire.RenewalReport
	e.must(200, "GET", "/v1/reports/renewals?from="+day+"&to="+next, e.key["dist"], nil, &r)
	var found *wire.Renewal
	for i := range r.Renewals {
		if r.Renewals[i].LicenseID == lic.ID {
			found = &r.Renewals[i]
		}
	}
	if found == nil || !found.PeriodStart.Equal(end) || !found.PeriodEnd.Equal(end.AddDate(1, 0, 0)) ||
		strings.Join(found.Chain, ",") != "acme,dist" || found.DistributorDescription != "PO-4711" {
		t.Fatalf("dist's renewal report = %+v", r)
	}
	r = wire.RenewalReport{}
	e.must(200, "GET", "/v1/reports/renewals?from="+day+"&to="+next+"&customer=acme", e.key["acme"], nil, &r)
	if len(r.Renewals) == 0 || r.Renewals[0].DistributorDescription != "" || strings.Join(r.Renewals[0].Chain, ",") != "acme" {
		t.Fatalf("acme's renewal report = %+v", r)
	}
	r = wire.RenewalReport{}
	e.must(200, "GET", "/v1/reports/renewals?from="+next+"&to="+end.AddDate(0, 0, 30).Format(time.DateOnly), e.key["dist"], nil, &r)
	if len(r.Renewals) != 0 {
		t.Fatalf("renewals after the day of renewal: %+v", r.Renewals)
	}
	var h wire.HistoryList
	e.must(200, "GET", "/v1/licenses/"+lic.ID+"/history?limit=1000", e.key["acme"], nil, &h)
	last := h.Entries[len(h.Entries)-1]
	if h.Entries[0].Kind != "created" || last.Kind != "renewal" || last.By != "system" || last.Status != "active" {
		t.Fatalf("history = %+v", h.Entries)
	}
}

// TestReportParametersStrict refuses a missing or malformed date, an
// unknown or repeated parameter, and an empty period.
func TestReportParametersStrict(t *testing.T) {
	e := newAPIEnv(t)
	lic := e.world()
	for _, path := range []string{
		"/v1/reports/renewals?to=2026-02-01",
		"/v1/reports/renewals?from=2026-1-1&to=2026-02-01",
		"/v1/reports/renewals?from=2026-01-01&to=2026-02-01&colour=red",
		"/v1/reports/active?reseller=acme",
		"/v1/reports/active?reseller=acme&day=2026-04-01&day=2026-04-02",
		"/v1/reports/active?reseller=a/b&day=2026-04-01",
		"/v1/licenses/" + lic.ID + "/history?since=1",
		"/v1/reports/created",
		"/v1/reports/created?month=2026-4",
		"/v1/reports/created?month=2026-04&day=3",
		"/v1/reports/created?month=2026-04&customer=a/b",
	} {
		if code, raw := e.call("GET", path, e.key["dist"], nil, nil); code != 400 || errCode(raw) != "invalid_parameter" {
			t.Errorf("%s: %d %s, want 400 invalid_parameter", path, code, raw)
		}
	}
	if code, raw := e.call("GET", "/v1/reports/renewals?from=2026-02-01&to=2026-02-01", e.key["dist"], nil, nil); code != 400 || errCode(raw) != "invalid_argument" {
		t.Errorf("empty period: %d %s, want 400 invalid_argument", code, raw)
	}
}
