package api

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// fuzzRequest checks that decoding and validating any body never panics and
// that every refusal is one the error map names with a 4xx.
func fuzzRequest(f *testing.F, seeds []string, newV func() validator) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v := newV()
		err := decodeJSON(bytes.NewReader(body), v)
		if err == nil {
			err = v.Validate()
		}
		if err == nil {
			return
		}
		if status, _ := Status(err); status >= 500 {
			t.Fatalf("body %q: error %v maps to %d", body, err, status)
		}
		if !errors.Is(err, ErrMalformedJSON) && !errors.Is(err, ErrUnknownField) && !errors.Is(err, ErrWrongType) && !errors.Is(err, ErrDuplicateKey) &&
			!errors.Is(err, wire.ErrInvalid) && !errors.Is(err, wire.ErrImmutable) {
			t.Fatalf("body %q: unnamed error %v", body, err)
		}
	})
}

func FuzzCreateLicenseRequest(f *testing.F) {
	fuzzRequest(f, []string{
		`{"customer_id":"acme","type":"standard","billing":"term","models":["sensor-*"],"count":5}`,
		`{"customer_id":"acme","type":"standard","billing":"days","days":30,"models":["*"],"max_offline_seconds":0}`,
		`{"customer_id":"a/b","type":"trial","billing":"term","models":[]}`, `{"count":"5"}`, `{"count":1e30}`, `[]`, ``,
	}, func() validator { return &wire.CreateLicenseRequest{} })
}

func FuzzUpdateLicenseRequest(f *testing.F) {
	fuzzRequest(f, []string{`{"customer_description":"x"}`, `{"max_samples_per_hour":5}`, `{"type":null}`, `{}`},
		func() validator { return &wire.UpdateLicenseRequest{} })
}

func FuzzBatchRequest(f *testing.F) {
	fuzzRequest(f, []string{`{"customer_id":"acme","count":3}`, `{"ids":["a","b"]}`, `{"count":-1}`, `{"ids":["a#b"]}`},
		func() validator { return &wire.BatchRequest{} })
}

func FuzzCreateCustomerRequest(f *testing.F) {
	fuzzRequest(f, []string{`{"name":"Acme","parent_id":"dist","vat":"DE1"}`, `{"id":"a\u0000b","name":"x"}`, `{"name":""}`},
		func() validator { return &wire.CreateCustomerRequest{} })
}

func FuzzUpdateCustomerRequest(f *testing.F) {
	fuzzRequest(f, []string{`{"allow_superior_manage":true}`, `{"name":"x"}`, `{"allow_superior_manage":"yes"}`,
		`{"issuer":true,"allowed_months":[12,24],"max_days":365}`, `{"allowed_months":[]}`, `{"allowed_months":null}`,
		`{"max_days":-1}`, `{"allowed_months":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61]}`},
		func() validator { return &wire.UpdateCustomerRequest{} })
}

func FuzzCreateUserRequest(f *testing.F) {
	fuzzRequest(f, []string{`{"customer_id":"acme","email":"a@b.c","role":"viewer"}`, `{"role":"root"}`},
		func() validator { return &wire.CreateUserRequest{} })
}

func FuzzCreateDeviceRequest(f *testing.F) {
	fuzzRequest(f, []string{`{"id":"dev-1","customer_id":"acme","model":"sensor-a","public_key":"x"}`, `{"id":"dev+1"}`},
		func() validator { return &wire.CreateDeviceRequest{} })
}

func FuzzSmallRequests(f *testing.F) {
	for _, s := range []string{`{"device_id":"dev-1"}`, `{"to":"acme"}`, `{"renew":true}`, `{"days":30}`, `{"reason":"x"}`} {
		f.Add(byte(0), []byte(s))
	}
	kinds := []func() validator{
		func() validator { return &wire.BindRequest{} }, func() validator { return &wire.CustomerRef{} },
		func() validator { return &wire.RenewRequest{} }, func() validator { return &wire.AddDaysRequest{} },
		func() validator { return &wire.BlacklistRequest{} }, func() validator { return &noBody{} },
	}
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		v := kinds[int(kind)%len(kinds)]()
		err := decodeJSON(bytes.NewReader(body), v)
		if err == nil {
			err = v.Validate()
		}
		if status, _ := Status(err); err != nil && status >= 500 {
			t.Fatalf("body %q: %v maps to %d", body, err, status)
		}
	})
}

func FuzzQueryParsers(f *testing.F) {
	for _, s := range []string{"30d", "12h", "-1d", "99999999999d", "", "x", "AAAA", "bGMvYWNtZS94"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseWithin(s); err == nil && d < 0 {
			t.Fatalf("ParseWithin(%q) = %v", s, d)
		}
		if c, err := decCursor(s); err == nil && encCursor(c) != s && s != "" {
			t.Fatalf("cursor %q does not round-trip", s)
		}
	})
}
