package ledger

import (
	"strconv"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/egress"
)

// BenchmarkEmitFanOut measures recording one event in its own
// transaction and queueing its deliveries to three endpoints up the
// chain (acme-sub, acme, root): the cost a fact pays for webhooks.
func BenchmarkEmitFanOut(b *testing.B) {
	lg, db := benchLedger(b, b.TempDir())
	defer db.Close()
	lg.egress = egress.Guard{Lookup: fakeDNS}
	if _, err := lg.CreateCustomer(ctx, SystemActor(), CustomerInput{ID: "acme-sub", Name: "Sub", ParentID: "acme"}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []string{"root", "acme", "acme-sub"} {
		if _, _, err := lg.CreateWebhook(ctx, SystemActor(), c, "https://"+c+".example.test/hook", EventTypes); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		i++
		if err := lg.update(func(o *op) error {
			return o.emit(EventSyncFork, "dev-1", strconv.Itoa(i), DeviceEventData{DeviceID: "dev-1", CustomerID: "acme-sub", Seq: int64(i)}, "acme-sub")
		}); err != nil {
			b.Fatal(err)
		}
	}
}
