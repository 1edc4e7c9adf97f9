package console

import (
	"errors"
	"net/url"
	"strconv"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// FuzzParseCreateForm: any form either parses to a request with a count in
// 1..MaxBatch, lists within MaxCreateListItems and renew from on/off, or is
// refused with ledger.ErrInvalid; it never panics.
func FuzzParseCreateForm(f *testing.F) {
	f.Add("customer=acme&count=3&type=standard&billing=term&months=12&models=sensor-*")
	f.Add("count=" + strconv.Itoa(ledger.MaxBatch+1))
	f.Add("count=1&renew=on&max_offline_seconds=60&features=a,b%20c")
	f.Add("count=1&months=12&months=24")
	f.Add("count=-1&days=99999999999999999999")
	f.Add("count=1&price=3")
	f.Add("count=%00&models=,,,")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := parseCreateForm(form)
		if err != nil {
			if req != nil {
				t.Fatal("a refused form returned a request")
			}
			if !isInvalid(err) {
				t.Fatalf("refusal %v is not ErrInvalid", err)
			}
			return
		}
		if req.Count < 1 || req.Count > ledger.MaxBatch || len(req.Models) > MaxCreateListItems || len(req.Features) > MaxCreateListItems {
			t.Fatalf("accepted %+v", req)
		}
		if form.Get("renew") == "" && req.Renew != nil {
			t.Fatal("renew set from nothing")
		}
		if req.MaxOfflineSeconds != nil && *req.MaxOfflineSeconds < 0 {
			t.Fatal("negative max offline")
		}
	})
}

func isInvalid(err error) bool { return errors.Is(err, ledger.ErrInvalid) }
