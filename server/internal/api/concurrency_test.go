package api

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestConcurrentWritesAndReads runs writers and readers in parallel through
// the real router (run with -race): every create lands exactly once and
// listings stay consistent.
func TestConcurrentWritesAndReads(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	const writers, each = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range each {
				code, raw := e.call("POST", "/v1/licenses", e.key["dist"], wire.CreateLicenseRequest{CustomerID: "beta", Type: "standard",
					Billing: "days", Days: int64(w*each + i + 1), Models: []string{"*"}}, nil)
				if code != 201 {
					errs <- fmt.Errorf("create: %d %s", code, raw)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range each {
				if code, raw := e.call("GET", "/v1/licenses?customer=beta&billing=days", e.key["beta"], nil, nil); code != 200 {
					errs <- fmt.Errorf("list: %d %s", code, raw)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var l wire.LicenseList
	e.must(200, "GET", "/v1/licenses?customer=beta&billing=days", e.key["beta"], nil, &l)
	days := map[int64]bool{}
	for _, x := range l.Licenses {
		days[x.TotalDays] = true
	}
	if len(l.Licenses) != writers*each || len(days) != writers*each {
		t.Fatalf("%d licenses with %d distinct day counts, want %d", len(l.Licenses), len(days), writers*each)
	}
}
