package consumption

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestCSVRowsFollowTheHeader: a device row, a customer total and the
// report total, each as wide as the documented header, in that order.
func TestCSVRowsFollowTheHeader(t *testing.T) {
	var b bytes.Buffer
	c := NewCSV(&b, "dist")
	d := &ledger.ConsumptionDevice{DeviceID: "press-01", CustomerID: "acme", SamplesPerHour: 1000, Budget24h: 24000,
		Samples: 90000, PeakHour: time.Date(2026, 5, 3, 8, 0, 0, 0, time.UTC).Unix(), PeakCount: 3000}
	tot := &ledger.ConsumptionTotals{Devices: 1, Samples: 90000}
	for _, err := range []error{c.BeginCustomer(&ledger.Customer{ID: "acme"}), c.Device(d), c.EndCustomer("acme", tot), c.Finish(tot)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(wire.ConsumptionCSVHeader, ",") {
		t.Fatalf("rows %v", rows)
	}
	for i, kind := range []string{wire.ConsumptionRowDevice, wire.ConsumptionRowCustomerTotal, wire.ConsumptionRowTotal} {
		r := rows[i+1]
		if len(r) != len(wire.ConsumptionCSVHeader) || r[0] != kind {
			t.Fatalf("row %d = %v", i+1, r)
		}
	}
	if rows[1][2] != "press-01" || rows[1][7] != "90000" || rows[3][1] != "dist" {
		t.Fatalf("values %v / %v", rows[1], rows[3])
	}
}

// TestCSVOfAnEmptyReportIsHeaderAndTotal: nothing to report still makes a
// file an importer reads (header and a zero total).
func TestCSVOfAnEmptyReportIsHeaderAndTotal(t *testing.T) {
	var b bytes.Buffer
	if err := NewCSV(&b, "acme").Finish(&ledger.ConsumptionTotals{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][0] != wire.ConsumptionRowTotal {
		t.Fatalf("rows %v, %v", rows, err)
	}
}
