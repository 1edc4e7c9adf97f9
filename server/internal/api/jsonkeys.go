package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ErrDuplicateKey reports a JSON object that names a key twice (or two
// keys that differ only in case): encoding/json would keep the last one
// silently, so what a reviewer reads is not what the server applies.
var ErrDuplicateKey = errors.New("duplicate JSON key")

// checkKeys walks the JSON document data before it is decoded into a value
// of type t and refuses, at any depth, a key given twice in one object, two
// keys that encoding/json would match to the same field (they differ only
// in case), and a key that matches a field of t only case-insensitively
// ("Days" for "days"). Unknown keys are left to DisallowUnknownFields and
// malformed JSON to the decoder, which name them in their own words.
func checkKeys(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		fields    map[string]field // t's fields by JSON name, nil for anything but a struct
		elem      reflect.Type     // an array's or map's element type
		object    bool
		seen      map[string]string // folded key → key as written
		expectKey bool
		next      reflect.Type // type of the value after the current key
	}
	var stack []*frame
	valueType := func() reflect.Type { // the type of the value about to start
		if len(stack) == 0 {
			return t
		}
		top := stack[len(stack)-1]
		if top.object {
			return top.next
		}
		return top.elem
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // the decoder reports malformed JSON with its offset
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				vt := deref(valueType())
				f := &frame{object: d == '{', expectKey: true}
				if vt != nil {
					switch vt.Kind() {
					case reflect.Struct:
						f.fields = fieldsOf(vt)
					case reflect.Map, reflect.Slice, reflect.Array:
						f.elem = vt.Elem()
					}
				}
				if top != nil && top.object {
					top.expectKey = true
				}
				stack = append(stack, f)
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top == nil || !top.object {
			continue // a scalar at the top or in an array
		}
		if !top.expectKey {
			top.expectKey = true // a scalar value; the next token is a key
			continue
		}
		k, _ := tok.(string)
		top.expectKey = false
		fk := foldKey(k)
		if prev, dup := top.seen[fk]; dup {
			if prev == k {
				return fmt.Errorf("%w: %q appears twice in one object", ErrDuplicateKey, k)
			}
			return fmt.Errorf("%w: %q and %q differ only in case", ErrDuplicateKey, prev, k)
		}
		if top.seen == nil {
			top.seen = map[string]string{}
		}
		top.seen[fk] = k
		top.next = top.elem
		if top.fields != nil {
			f, ok := top.fields[fk]
			switch {
			case ok && f.name != k:
				return fmt.Errorf("%w: %q must be spelled %q", ErrUnknownField, k, f.name)
			case ok:
				top.next = f.typ
			default:
				top.next = nil // unknown: DisallowUnknownFields names it
			}
		}
	}
}

// field is one JSON field of a struct.
type field struct {
	name string
	typ  reflect.Type
}

var fieldCache sync.Map // reflect.Type → map[string]field (by folded name)

// fieldsOf returns the JSON fields of struct type t by folded name, as
// encoding/json sees them (tag name, or the Go name without a tag; "-"
// skipped; embedded structs flattened).
func fieldsOf(t reflect.Type) map[string]field {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]field)
	}
	m := map[string]field{}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			if et := deref(sf.Type); et != nil && et.Kind() == reflect.Struct {
				for k, f := range fieldsOf(et) {
					if _, ok := m[k]; !ok {
						m[k] = f
					}
				}
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		m[foldKey(name)] = field{name: name, typ: sf.Type}
	}
	fieldCache.Store(t, m)
	return m
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// foldKey folds a key the way encoding/json matches keys to fields
// (bytes.EqualFold: Unicode simple folding): every rune becomes the least
// rune of its folding orbit, so keys it would treat as one fold alike.
func foldKey(k string) string {
	ascii := true
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(k) // an ASCII letter's upper case is the least of its orbit
	}
	var b strings.Builder
	b.Grow(len(k))
	for _, r := range k {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
