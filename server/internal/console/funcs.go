package console

import (
	"html/template"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// pickerData is a customer picker: a select named Name listing the
// customers the actor sees.
type pickerData struct {
	ID, Name, Mine, Selected string
	Customers                []ledger.Customer
}

// funcs are the template helpers.
var funcs = template.FuncMap{
	"num": num,
	// ifKind is v when kind is want, else "": a form shows the values of
	// its own report only.
	"ifKind": func(kind, want, v string) string {
		if kind != want {
			return ""
		}
		return v
	},
	// picker is the data of a customer picker.
	"picker": func(id, name, mine, selected string, cs []ledger.Customer) pickerData {
		return pickerData{ID: id, Name: name, Mine: mine, Selected: selected, Customers: cs}
	},
	// date shows an instant in UTC to the minute; the zero time as a dash.
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
}
