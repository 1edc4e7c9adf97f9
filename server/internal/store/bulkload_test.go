package store

import (
	"errors"
	"fmt"
	"testing"
)

// TestBulkLoadThenScanInPlace: a bulk load of ascending keys is read back
// in order, values in place, from after a given key; a load whose keys do
// not ascend is refused with ErrBulkOrder.
func TestBulkLoadThenScanInPlace(t *testing.T) {
	db := openTest(t, nil)
	i := 0
	err := db.BulkLoad(func() ([]byte, []byte, bool) {
		if i == 1000 {
			return nil, nil, false
		}
		i++
		return HourlyCountKey("dev-1", int64(i)*3600), []byte(fmt.Sprint(i)), true
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = db.View(func(x *Txn) error {
		return x.ScanInPlace(HourlyCountPrefix("dev-1"), HourlyCountKey("dev-1", 997*3600), func(_, v []byte) (bool, error) {
			got = append(got, string(v))
			return true, nil
		})
	})
	if err != nil || fmt.Sprint(got) != "[998 999 1000]" {
		t.Fatalf("scan after 997: %v, %v", got, err)
	}
	keys := [][]byte{CustomerKey("b"), CustomerKey("a")}
	err = db.BulkLoad(func() ([]byte, []byte, bool) {
		if len(keys) == 0 {
			return nil, nil, false
		}
		k := keys[0]
		keys = keys[1:]
		return k, nil, true
	})
	if !errors.Is(err, ErrBulkOrder) {
		t.Fatalf("descending keys: %v", err)
	}
}
