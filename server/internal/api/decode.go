package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// validator is every request document.
type validator interface{ Validate() error }

// decode reads one JSON object into v strictly — bounded body, no unknown
// fields, no trailing data — and validates it.
func decode(w http.ResponseWriter, r *http.Request, v validator) error {
	if err := readJSON(w, r, v); err != nil {
		return err
	}
	return v.Validate()
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return ErrUnsupportedMedia
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, wire.MaxAdminBodyBytes)
	return decodeJSON(r.Body, v)
}

// decodeJSON is the strict decoder, separate from HTTP so it can be fuzzed.
// The body (bounded by the caller) is read whole, its keys checked at every
// depth (checkKeys: no duplicates, no case variants), then decoded.
func decodeJSON(body io.Reader, v any) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return classify(err)
	}
	if err := checkKeys(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return classify(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ErrBodyTooLarge
		}
		return fmt.Errorf("%w: data after the JSON object", ErrMalformedJSON)
	}
	return nil
}

func classify(err error) error {
	var mbe *http.MaxBytesError
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: at most %d bytes", ErrBodyTooLarge, mbe.Limit)
	case errors.As(err, &te):
		return fmt.Errorf("%w: field %q wants %s, got %s", ErrWrongType, te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("%w: %v at byte %d", ErrMalformedJSON, se, se.Offset)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: empty body", ErrMalformedJSON)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("%w: %s", ErrUnknownField, strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return fmt.Errorf("%w: %v", ErrMalformedJSON, err)
}

// noBody accepts an action request with an empty body or {}.
type noBody struct{}

func (noBody) Validate() error { return nil }

func decodeOptional(w http.ResponseWriter, r *http.Request, v validator) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return v.Validate()
	}
	return decode(w, r, v)
}

// pathID returns a path variable, unescaped and checked as an id, so that
// ids with / + # or NUL are refused by name rather than misrouted.
func pathID(r *http.Request, name string) (string, error) {
	raw := mux.Vars(r)[name]
	v, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrBadQuery, name, err)
	}
	if err := ident.CheckID(name, v); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	return v, nil
}

// queryID reads an optional id query parameter.
func queryID(q url.Values, name string) (string, error) {
	v := q.Get(name)
	if v == "" {
		return "", nil
	}
	if err := ident.CheckID(name, v); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	return v, nil
}

// queryLimit reads limit (1..wire.MaxPageSize, default 100).
func queryLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > wire.MaxPageSize {
		return 0, fmt.Errorf("%w: limit %q: want 1..%d", ErrBadQuery, v, wire.MaxPageSize)
	}
	return n, nil
}

// ParseWithin parses a duration like 30d, 12h or 90m (days are 24 h).
func ParseWithin(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 0 || d > 36500 {
			return 0, fmt.Errorf("%w: %q: want a number of days like 30d", ErrBadQuery, s)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: %q: want a duration like 30d or 12h", ErrBadQuery, s)
	}
	return d, nil
}

// actionID reads the {id} of an action that takes no body (POST …/revoke,
// …/test, …/redeliver): the path id, and an empty or {} body.
func actionID(w http.ResponseWriter, r *http.Request) (string, error) {
	id, err := pathID(r, "id")
	if err == nil {
		err = decodeOptional(w, r, &noBody{})
	}
	return id, err
}
