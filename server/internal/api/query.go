package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// query reads the parameters of one GET request strictly: a parameter the
// endpoint does not name, or one given twice, is refused, and each reader
// parses its value or records why it cannot. The first problem wins and is
// returned by err, so a handler reads every parameter and checks once.
type query struct {
	q   url.Values
	bad error
}

// readQuery starts reading r's query; known lists every parameter the
// endpoint takes.
func readQuery(r *http.Request, known ...string) *query {
	q := &query{q: r.URL.Query()}
	q.bad = onlyParams(q.q, known)
	return q
}

// err is the first problem found, or nil.
func (q *query) err() error { return q.bad }

func (q *query) fail(format string, args ...any) {
	if q.bad == nil {
		q.bad = fmt.Errorf("%w: "+format, append([]any{ErrBadQuery}, args...)...)
	}
}

// id reads an optional identifier ("" when absent).
func (q *query) id(name string) string {
	v, err := queryID(q.q, name)
	if err != nil && q.bad == nil {
		q.bad = err
	}
	return v
}

// text reads an optional free-text parameter of at most max bytes.
func (q *query) text(name string, max int) string {
	v := q.q.Get(name)
	if len(v) > max {
		q.fail("%s: want at most %d bytes", name, max)
		return ""
	}
	return v
}

// oneOf reads an optional parameter that must be one of allowed.
func (q *query) oneOf(name string, allowed ...string) string {
	v := q.q.Get(name)
	if v == "" {
		return ""
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	q.fail("%s %q: want one of %v", name, v, allowed)
	return ""
}

// day reads a YYYY-MM-DD date as its first instant, UTC; zero when absent
// and not required.
func (q *query) day(name string, required bool) time.Time {
	v := q.q.Get(name)
	if v == "" {
		if required {
			q.fail("%s is required (YYYY-MM-DD)", name)
		}
		return time.Time{}
	}
	d, err := ledger.ParseDay(name, v)
	if err != nil {
		q.fail("%v", err)
	}
	return d
}

// instant reads an optional date (YYYY-MM-DD, its first instant UTC) or
// RFC 3339 time.
func (q *query) instant(name string) time.Time {
	v := q.q.Get(name)
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC()
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		return d.UTC()
	}
	q.fail("%s %q: want a date YYYY-MM-DD or a time like 2026-05-01T12:00:00Z", name, v)
	return time.Time{}
}

// boolean reads an optional true or false.
func (q *query) boolean(name string) *bool {
	v := q.q.Get(name)
	if v == "" {
		return nil
	}
	if v != "true" && v != "false" {
		q.fail("%s %q: want true or false", name, v)
		return nil
	}
	b := v == "true"
	return &b
}

// count reads an optional whole number, 0 or more.
func (q *query) count(name, unit string) *int64 {
	v := q.q.Get(name)
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		q.fail("%s %q: want a whole number of %s, 0 or more", name, v, unit)
		return nil
	}
	return &n
}

// page reads limit and cursor.
func (q *query) page() (int, string) {
	limit, err := queryLimit(q.q)
	if err != nil && q.bad == nil {
		q.bad = err
	}
	cursor, err := decCursor(q.q.Get("cursor"))
	if err != nil && q.bad == nil {
		q.bad = err
	}
	return limit, cursor
}

// period checks that from lies before to when both are given.
func (q *query) period(fromName string, from time.Time, toName string, to time.Time) {
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		q.fail("%s must be after %s", toName, fromName)
	}
}
