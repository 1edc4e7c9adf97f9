package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Creating licenses in bulk: the form's fields are those of POST
// /v1/licenses, read into the same wire.CreateLicenseRequest, checked by
// the same Validate and passed to the same ledger.CreateLicenses as the
// signed-in actor. The first post shows what will be created and asks to
// confirm; the second (confirm=yes) creates and lists the new serials.

// Bounds of the create form's free text (the ledger checks the rest).
const (
	// MaxCreateField bounds one text field of the create form.
	MaxCreateField = 1024
	// MaxCreateListItems bounds the entries of a list field (models,
	// features): the ledger's own limits are lower.
	MaxCreateListItems = 64
)

// createFields are the fields the create form posts; any other is refused
// (csrf and confirm are the form's own).
var createFields = []string{"customer", "count", "type", "billing", "months", "days", "models", "max_samples_per_hour",
	"enforcement", "features", "max_children", "start_at_children", "max_offline_seconds", "retention_days", "renew",
	"cancellation_days", "alignment", "distributor_description", "customer_description"}

type createData struct {
	// Form is the form as posted (to refill it and carry it to the confirm
	// step).
	Form     url.Values
	Request  *wire.CreateLicenseRequest
	Confirm  bool
	Created  []ledger.LicenseView
	MaxBatch int
}

func (c *Console) createPage(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	f := url.Values{"count": {"1"}, "type": {"standard"}, "billing": {"term"}, "months": {"12"}, "customer": {s.Actor.CustomerID}}
	c.render(w, http.StatusOK, "create", page{Title: "Create licenses", Session: s, Data: createData{Form: f, MaxBatch: ledger.MaxBatch}})
}

// createLicenses is the two-step post of the create form.
func (c *Console) createLicenses(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	d := createData{Form: url.Values{}, MaxBatch: ledger.MaxBatch}
	for _, k := range createFields {
		if v, ok := r.PostForm[k]; ok {
			d.Form[k] = v
		}
	}
	req, err := parseCreateForm(r.PostForm)
	if err == nil {
		err = req.Validate()
	}
	if err == nil && r.PostForm.Get("confirm") != "yes" {
		d.Request, d.Confirm = req, true
		c.render(w, http.StatusOK, "create", page{Title: "Confirm: create licenses", Session: s, Data: d})
		return
	}
	if err == nil {
		d.Created, err = c.lg.CreateLicenses(r.Context(), s.Actor, licenseInputOf(req))
	}
	if err != nil {
		status, code, msg := describe(err)
		if status == http.StatusInternalServerError {
			c.failErr(w, r, s, err)
			return
		}
		c.render(w, status, "create", page{Title: "Create licenses", Session: s, Data: d, Error: &pageError{Status: status, Code: code, Message: msg}})
		return
	}
	d.Request = req
	c.render(w, http.StatusOK, "create", page{Title: "Created", Session: s, Data: d})
}

// licenseInputOf is the ledger input of a create request, as POST
// /v1/licenses builds it.
func licenseInputOf(req *wire.CreateLicenseRequest) ledger.LicenseInput {
	return ledger.LicenseInput{CustomerID: req.CustomerID,
		Type: req.Type, Billing: req.Billing, Months: req.Months, Days: req.Days, Models: req.Models,
		MaxSamplesPerHour: req.MaxSamplesPerHour, Enforcement: req.Enforcement, Features: req.Features,
		MaxChildren: req.MaxChildren, StartAtChildren: req.StartAtChildren, MaxOfflineSeconds: req.MaxOfflineSeconds, RetentionDays: req.RetentionDays,
		Renew: req.Renew, CancellationDays: req.CancellationDays, Alignment: req.Alignment,
		DistributorDescription: req.DistributorDescription, CustomerDescription: req.CustomerDescription, Count: req.Count}
}

// formError is the refusal of a create form field.
func formError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: "+format, append([]any{ledger.ErrInvalid, field}, args...)...)
}

// parseCreateForm reads the create form strictly: every field at most
// once and at most MaxCreateField bytes, numbers whole and in range, lists
// comma- or space-separated with at most MaxCreateListItems entries, renew
// "", "on" or "off". Unknown fields are refused. Count is required: 1 to
// ledger.MaxBatch.
func parseCreateForm(f url.Values) (*wire.CreateLicenseRequest, error) {
	known := map[string]bool{"csrf": true, "confirm": true}
	for _, k := range createFields {
		known[k] = true
	}
	for k, vs := range f {
		if !known[k] {
			return nil, formError(k, "unknown field: the form takes %s", strings.Join(createFields, ", "))
		}
		if len(vs) > 1 {
			return nil, formError(k, "given %d times: give it once", len(vs))
		}
		if len(vs[0]) > MaxCreateField {
			return nil, formError(k, "%d bytes: at most %d", len(vs[0]), MaxCreateField)
		}
	}
	req := &wire.CreateLicenseRequest{CustomerID: strings.TrimSpace(f.Get("customer")), Type: f.Get("type"), Billing: f.Get("billing"),
		Enforcement: f.Get("enforcement"), Alignment: strings.TrimSpace(f.Get("alignment")),
		DistributorDescription: f.Get("distributor_description"), CustomerDescription: f.Get("customer_description")}
	var err error
	num := func(name string, max int64) int64 {
		s := strings.TrimSpace(f.Get(name))
		if s == "" || err != nil {
			return 0
		}
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n < 0 || n > max {
			err = formError(name, "%q: want a whole number from 0 to %d", s, max)
		}
		return n
	}
	list := func(name string) []string {
		out := strings.FieldsFunc(f.Get(name), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
		if len(out) > MaxCreateListItems && err == nil {
			err = formError(name, "%d entries: at most %d", len(out), MaxCreateListItems)
		}
		return out
	}
	count := strings.TrimSpace(f.Get("count"))
	n, cerr := strconv.Atoi(count)
	switch {
	case cerr != nil:
		return nil, formError("count", "%q: want a whole number from 1 to %d", count, ledger.MaxBatch)
	case n < 1 || n > ledger.MaxBatch:
		return nil, formError("count", "%d out of 1..%d: create at most %d licenses at once", n, ledger.MaxBatch, ledger.MaxBatch)
	}
	req.Count = n
	req.Months = int(num("months", 1200))
	req.Days = num("days", 1<<31)
	req.MaxSamplesPerHour = num("max_samples_per_hour", 1<<40)
	req.MaxChildren = num("max_children", 1<<31)
	req.StartAtChildren = num("start_at_children", 1<<31)
	req.RetentionDays = int(num("retention_days", 1<<20))
	req.CancellationDays = int(num("cancellation_days", 1<<20))
	if strings.TrimSpace(f.Get("max_offline_seconds")) != "" {
		v := num("max_offline_seconds", 1<<40)
		req.MaxOfflineSeconds = &v
	}
	req.Models, req.Features = list("models"), list("features")
	switch f.Get("renew") {
	case "":
	case "on", "off":
		on := f.Get("renew") == "on"
		req.Renew = &on
	default:
		return nil, formError("renew", "%q: want on, off or nothing (the default)", f.Get("renew"))
	}
	if err != nil {
		return nil, err
	}
	return req, nil
}
