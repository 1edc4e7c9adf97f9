package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

func TestCheckKeys(t *testing.T) {
	lic := reflect.TypeOf(&wire.CreateLicenseRequest{})
	tests := []struct {
		name string
		body string
		typ  reflect.Type
		want error  // nil: accepted
		key  string // the key the error must name
	}{
		{"ok", `{"customer_id":"acme","days":30,"models":["*"]}`, lic, nil, ""},
		{"ok/unknown-left-to-decoder", `{"nope":1}`, lic, nil, ""},
		{"ok/same-key-in-sibling-objects", `[{"a":1},{"a":2}]`, nil, nil, ""},
		{"ok/malformed-left-to-decoder", `{"a":`, nil, nil, ""},
		{"error/duplicate", `{"days":1,"days":100000}`, lic, ErrDuplicateKey, `"days"`},
		{"error/duplicate-case-variant", `{"days":1,"DAYS":100000}`, lic, ErrDuplicateKey, `"DAYS"`},
		{"error/duplicate-kelvin-sign", "{\"k\":1,\"\u212a\":2}", nil, ErrDuplicateKey, `"k"`},
		{"error/duplicate-nested-in-array", `{"ids":["a"],"x":[{"a":1,"a":2}]}`, nil, ErrDuplicateKey, `"a"`},
		{"error/duplicate-deep", `{"a":{"b":{"c":[[{"d":1,"d":2}]]}}}`, nil, ErrDuplicateKey, `"d"`},
		{"error/duplicate-after-nested-value", `{"a":{"b":1},"a":2}`, nil, ErrDuplicateKey, `"a"`},
		{"error/case-variant-of-field", `{"Days":100000}`, lic, ErrUnknownField, `"Days"`},
		{"error/long-s-variant-of-field", "{\"\u017ferial\":1}", reflect.TypeOf(wire.License{}), ErrUnknownField, `"serial"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkKeys([]byte(tc.body), tc.typ)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("%v, want %v naming %s", err, tc.want, tc.key)
			}
		})
	}
}

// TestAdminDuplicateKeysRefused is the attack: a license body whose
// "days" is given twice, so that a reviewer (or a proxy, or a log) reads
// one value and encoding/json would apply the other. It is refused by
// name, and nothing is created.
func TestAdminDuplicateKeysRefused(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	for _, tc := range []struct{ name, path, body, key string }{
		{"license-days", "/v1/licenses", `{"customer_id":"acme","type":"standard","billing":"days","days":1,"models":["*"],"count":1,"days":100000}`, `"days"`},
		{"license-days-case", "/v1/licenses", `{"customer_id":"acme","type":"standard","billing":"days","days":1,"models":["*"],"count":1,"Days":100000}`, `"Days"`},
		{"customer-parent", "/v1/customers", `{"id":"evil","name":"Evil","parent_id":"acme","parent_id":"root"}`, `"parent_id"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.auditCount()
			status, raw := e.raw("POST", tc.path, e.key["dist"], tc.body, "")
			if status != http.StatusBadRequest || errCode(raw) != "duplicate_key" || !strings.Contains(string(raw), strings.ReplaceAll(tc.key, `"`, `\"`)) {
				t.Fatalf("%d %s, want 400 duplicate_key naming %s", status, raw, tc.key)
			}
			if after := e.auditCount(); after != before {
				t.Fatalf("audit grew from %d to %d: something was created", before, after)
			}
		})
	}
	if status, raw := e.raw("POST", "/v1/licenses", e.key["dist"], `{"customer_id":"acme","type":"standard","billing":"days","Days":100000,"models":["*"]}`, ""); status != http.StatusBadRequest || errCode(raw) != "unknown_field" {
		t.Fatalf("case-variant field: %d %s, want 400 unknown_field", status, raw)
	}
}

// topKeys counts the keys of a top-level JSON object as written.
func topKeys(data []byte) (int, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, false
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			return 0, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return 0, false
		}
		n++
	}
	return n, true
}

// FuzzCheckKeys: checkKeys never panics, refuses only by name, and every
// object it accepts has as many distinct keys, as encoding/json sees them,
// as it has keys written.
func FuzzCheckKeys(f *testing.F) {
	for _, s := range []string{`{"days":1,"days":2}`, `{"a":{"b":1},"a":2}`, "{\"k\":1,\"\u212a\":2}", `[{"a":1},{"a":2}]`,
		`{"customer_id":"acme","Days":3}`, `{"a":[1,{"b":[]}],"B":{}}`, `{`, ``, `null`} {
		f.Add([]byte(s))
	}
	lic := reflect.TypeOf(&wire.CreateLicenseRequest{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkKeys(data, lic); err != nil && !errors.Is(err, ErrDuplicateKey) && !errors.Is(err, ErrUnknownField) {
			t.Fatalf("unnamed refusal: %v", err)
		}
		if checkKeys(data, nil) != nil {
			return
		}
		written, ok := topKeys(data)
		if !ok {
			return
		}
		var m map[string]json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&m); err != nil {
			return
		}
		folded := map[string]bool{}
		for k := range m {
			folded[foldKey(k)] = true
		}
		if len(folded) != written {
			t.Fatalf("%q accepted with %d keys written, %d distinct", data, written, len(folded))
		}
	})
}
