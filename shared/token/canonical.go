package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// encodeCanonical is the one function that produces signed payload bytes:
// encoding/json of a struct whose fields all lack omitempty, so every field
// is always present, in declaration order, with no insignificant whitespace.
func encodeCanonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("token: encode payload: %w", err)
	}
	return b, nil
}

// decodeCanonical decodes p into v and accepts it only if p is exactly the
// canonical encoding of what it decoded to. That single comparison refuses
// duplicate keys, case-variant keys, missing or unknown fields, reordered
// fields, whitespace, non-minimal number or string escapes, invalid UTF-8 and
// trailing data. On refusal it explains which of those it was.
func decodeCanonical(p []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	again, err := encodeCanonical(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(again, p) {
		return fmt.Errorf("%w: payload is not canonical: %s", ErrMalformed, diagnose(p, again))
	}
	return nil
}

// strictDecode decodes a JSON document that is not signed (a trust bundle, a
// config file): unknown fields, duplicate or case-variant keys and trailing
// data are refused, but whitespace and field order are free.
func strictDecode(data []byte, v any) error {
	if err := checkKeys(data, nil); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return fmt.Errorf("%w: trailing data after the JSON document", ErrMalformed)
	}
	return nil
}

// diagnose names the first way in which p differs from its canonical form.
func diagnose(p, canonical []byte) string {
	if err := checkKeys(p, canonical); err != nil {
		return strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": ")
	}
	if i := bytes.IndexAny(p, " \t\r\n"); i >= 0 {
		return fmt.Sprintf("whitespace at byte %d", i)
	}
	for i := 0; i < len(p) && i < len(canonical); i++ {
		if p[i] != canonical[i] {
			return fmt.Sprintf("differs from the canonical encoding at byte %d", i)
		}
	}
	if len(p) > len(canonical) {
		return fmt.Sprintf("trailing data at byte %d", len(canonical))
	}
	return fmt.Sprintf("truncated at byte %d", len(p))
}

// checkKeys walks every object in data and refuses duplicate keys and keys
// that differ only in case from another key in the same object. When
// canonical is given, it also refuses keys whose spelling differs from the
// canonical document's keys at the same depth (encoding/json would have
// matched them case-insensitively).
func checkKeys(data, canonical []byte) error {
	var known map[string]bool
	if canonical != nil {
		known = map[string]bool{}
		_ = walkKeys(canonical, func(_ int, k string) error { known[k] = true; return nil })
	}
	return walkKeys(data, func(depth int, k string) error {
		if known != nil && !known[k] {
			for c := range known {
				if strings.EqualFold(c, k) {
					return fmt.Errorf("%w: key %q must be spelled %q", ErrMalformed, k, c)
				}
			}
			return fmt.Errorf("%w: unknown key %q", ErrMalformed, k)
		}
		return nil
	})
}

// walkKeys calls fn for every object key in data, and refuses duplicate and
// case-variant keys within one object on its own.
func walkKeys(data []byte, fn func(depth int, key string) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type obj struct {
		keys      map[string]bool
		expectKey bool
	}
	var stack []*obj
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		var top *obj
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				if top != nil {
					top.expectKey = true
				}
				stack = append(stack, &obj{keys: map[string]bool{}, expectKey: true})
			case '[':
				if top != nil {
					top.expectKey = true
				}
				stack = append(stack, nil)
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top == nil {
			continue // an array element or the top-level scalar
		}
		if !top.expectKey {
			top.expectKey = true // a value; the next string is a key
			continue
		}
		k, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%w: object key is not a string", ErrMalformed)
		}
		if top.keys[k] {
			return fmt.Errorf("%w: duplicate key %q", ErrMalformed, k)
		}
		for seen := range top.keys {
			if strings.EqualFold(seen, k) {
				return fmt.Errorf("%w: keys %q and %q differ only in case", ErrMalformed, seen, k)
			}
		}
		top.keys[k] = true
		top.expectKey = false
		if err := fn(len(stack), k); err != nil {
			return err
		}
	}
}

// EncodePayload returns the canonical payload bytes of v, a pointer to a
// struct whose fields have json tags without omitempty. Documents defined
// in other packages sign these bytes with Signer.SignPayload.
func EncodePayload(v any) ([]byte, error) { return encodeCanonical(v) }

// DecodePayload decodes verified payload bytes into v, accepting only the
// exact bytes EncodePayload would produce for the result.
func DecodePayload(p []byte, v any) error { return decodePayload(p, v) }
