package token

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Signed payloads are flat JSON objects of strings, integers, booleans and
// string lists. readFlat reads exactly the canonical encoding of such a
// struct, field by field in declaration order, without encoding/json: the
// token is verified once per load, but the fleet's sync path verifies one
// per request, and a reflective decode plus a re-encode cost as much as a
// sixth of the signature check. decodeCanonical stays the reference: the
// fuzz targets check that both agree.

type flatField struct {
	key   string // `"name":`
	index int
	kind  reflect.Kind // String, Int64, Bool, or Slice (of string)
}

var flatPlans sync.Map // reflect.Type → []flatField, or nil if not flat

// flatPlan returns the field plan for the struct type t, or nil if t has a
// field readFlat cannot read.
func flatPlan(t reflect.Type) []flatField {
	if p, ok := flatPlans.Load(t); ok {
		return p.([]flatField)
	}
	var plan []flatField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" || opts != "" {
			plan = nil
			break
		}
		k := f.Type.Kind()
		if k == reflect.Slice && f.Type.Elem().Kind() != reflect.String {
			plan = nil
			break
		}
		if k != reflect.String && k != reflect.Int64 && k != reflect.Bool && k != reflect.Slice {
			plan = nil
			break
		}
		plan = append(plan, flatField{key: `"` + name + `":`, index: i, kind: k})
	}
	flatPlans.Store(t, plan)
	return plan
}

// decodePayload decodes a signed payload into v (a pointer to a struct),
// accepting only its canonical encoding. Flat structs take the fast reader;
// on refusal, decodeCanonical explains what is wrong.
func decodePayload(p []byte, v any) error {
	rv := reflect.ValueOf(v).Elem()
	plan := flatPlan(rv.Type())
	if plan == nil {
		return decodeCanonical(p, v)
	}
	if readFlat(p, rv, plan) {
		return nil
	}
	rv.SetZero()
	if err := decodeCanonical(p, v); err != nil {
		return err
	}
	rv.SetZero()
	return fmt.Errorf("%w: payload uses characters outside the token alphabet", ErrMalformed)
}

func readFlat(p []byte, rv reflect.Value, plan []flatField) bool {
	r := flatReader{p: p, ok: true}
	for i, f := range plan {
		if i == 0 {
			r.lit("{")
		} else {
			r.lit(",")
		}
		r.lit(f.key)
		field := rv.Field(f.index)
		switch f.kind {
		case reflect.String:
			field.SetString(r.str())
		case reflect.Int64:
			field.SetInt(r.int())
		case reflect.Bool:
			field.SetBool(r.bool())
		case reflect.Slice:
			field.Set(reflect.ValueOf(r.strs()))
		}
	}
	r.lit("}")
	return r.ok && r.i == len(r.p)
}

// flatReader consumes canonical JSON. It records the first failure in ok and
// turns every later call into a no-op.
type flatReader struct {
	p  []byte
	i  int
	ok bool
}

func (r *flatReader) fail() { r.ok = false; r.i = len(r.p) + 1 }

func (r *flatReader) lit(s string) {
	if !r.ok || len(r.p)-r.i < len(s) || string(r.p[r.i:r.i+len(s)]) != s {
		r.fail()
		return
	}
	r.i += len(s)
}

// str reads a string of printable ASCII other than " \ < > &: the bytes that
// encoding/json writes as themselves. Anything else never reaches a valid
// field, and refusing it keeps the reader trivially canonical.
func (r *flatReader) str() string {
	if !r.ok || r.i >= len(r.p) || r.p[r.i] != '"' {
		r.fail()
		return ""
	}
	start := r.i + 1
	for j := start; j < len(r.p); j++ {
		switch c := r.p[j]; {
		case c == '"':
			r.i = j + 1
			return string(r.p[start:j])
		case c < 0x20 || c > 0x7e || c == '\\' || c == '<' || c == '>' || c == '&':
			r.fail()
			return ""
		}
	}
	r.fail()
	return ""
}

// int reads a canonical decimal integer: no plus sign, no leading zeros, no
// "-0", no fraction or exponent, at most 2^53-1 in magnitude.
func (r *flatReader) int() int64 {
	if !r.ok || r.i >= len(r.p) {
		r.fail()
		return 0
	}
	neg := r.p[r.i] == '-'
	if neg {
		r.i++
	}
	start := r.i
	var n int64
	for r.i < len(r.p) && r.p[r.i] >= '0' && r.p[r.i] <= '9' {
		n = n*10 + int64(r.p[r.i]-'0')
		r.i++
		if n > 1<<53-1 {
			r.fail()
			return 0
		}
	}
	digits := r.i - start
	if digits == 0 || digits > 1 && r.p[start] == '0' || neg && n == 0 {
		r.fail()
		return 0
	}
	if neg {
		return -n
	}
	return n
}

func (r *flatReader) bool() bool {
	if !r.ok {
		return false
	}
	if len(r.p)-r.i >= 4 && string(r.p[r.i:r.i+4]) == "true" {
		r.i += 4
		return true
	}
	r.lit("false")
	return false
}

// strs reads null, [] or ["a","b",…]; null gives a nil slice, which every
// Validate refuses.
func (r *flatReader) strs() []string {
	if !r.ok {
		return nil
	}
	if len(r.p)-r.i >= 4 && string(r.p[r.i:r.i+4]) == "null" {
		r.i += 4
		return nil
	}
	r.lit("[")
	out := []string{}
	if r.ok && r.i < len(r.p) && r.p[r.i] == ']' {
		r.i++
		return out
	}
	for r.ok {
		out = append(out, r.str())
		if r.ok && r.i < len(r.p) && r.p[r.i] == ']' {
			r.i++
			return out
		}
		r.lit(",")
	}
	return nil
}
