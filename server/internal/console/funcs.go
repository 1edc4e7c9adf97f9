package console

import (
	"html/template"
	"time"
)

// funcs are the template helpers.
var funcs = template.FuncMap{
	"num": num,
	// date shows an instant in UTC to the minute; the zero time as a dash.
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
}
