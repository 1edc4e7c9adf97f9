package ledger

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// LicenseInput creates Count identical licenses.
type LicenseInput struct {
	CustomerID        string
	Type, Billing     string
	Months            int
	Days              int64
	Models            []string
	MaxSamplesPerHour int64
	Enforcement       string
	Features          []string
	MaxChildren       int64
	// StartAtChildren makes a capacity license (License.StartAtChildren).
	StartAtChildren        int64
	MaxOfflineSeconds      *int64 // nil: the server default
	RetentionDays          int
	Renew                  *bool // nil: on for standard term licenses
	CancellationDays       int
	Alignment              string
	DistributorDescription string
	CustomerDescription    string
	Count                  int
}

// LicenseView is a license as one actor sees it, with its derived status.
type LicenseView struct {
	License
	Status Status `json:"status"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// normalize checks in and fills defaults; the result is what is stored.
func (in *LicenseInput) normalize(defaultMaxOffline int64) error {
	if err := ident.CheckID("customer_id", in.CustomerID); err != nil {
		return invalid("%v", err)
	}
	if in.Type != token.TypeTrial && in.Type != token.TypeStandard {
		return invalid("type %q: want standard or trial", in.Type)
	}
	if in.Billing != token.BillingTerm && in.Billing != token.BillingDays {
		return invalid("billing %q: want term or days", in.Billing)
	}
	if in.Type == token.TypeTrial && in.Billing != token.BillingTerm {
		return invalid("a trial runs %d days from its first bind: billing must be term", TrialDays)
	}
	if in.Count == 0 {
		in.Count = 1
	}
	if in.Count < 1 || in.Count > MaxBatch {
		return invalid("count %d out of 1..%d", in.Count, MaxBatch)
	}
	if err := in.normalizeTerm(); err != nil {
		return err
	}
	if err := in.normalizeLists(); err != nil {
		return err
	}
	if in.MaxSamplesPerHour < 0 || in.MaxSamplesPerHour > limits.MaxSamplesPerHour {
		return invalid("max_samples_per_hour %d out of 0..%d", in.MaxSamplesPerHour, limits.MaxSamplesPerHour)
	}
	if in.Enforcement == "" {
		in.Enforcement = token.EnforcementEnforce
	}
	if in.Enforcement != token.EnforcementEnforce && in.Enforcement != token.EnforcementReport {
		return invalid("enforcement %q: want enforce or report", in.Enforcement)
	}
	if err := in.normalizeCapacity(); err != nil {
		return err
	}
	if in.MaxOfflineSeconds == nil {
		in.MaxOfflineSeconds = &defaultMaxOffline
	}
	if *in.MaxOfflineSeconds < 0 || *in.MaxOfflineSeconds > MaxOfflineLimit {
		return invalid("max_offline_seconds %d out of 0..%d", *in.MaxOfflineSeconds, MaxOfflineLimit)
	}
	if in.RetentionDays == 0 {
		in.RetentionDays = DefaultRetentionDays
	}
	if in.RetentionDays < 1 || in.RetentionDays > MaxRetentionDays {
		return invalid("retention_days %d out of 1..%d", in.RetentionDays, MaxRetentionDays)
	}
	if len(in.DistributorDescription) > MaxDescriptionLen || len(in.CustomerDescription) > MaxDescriptionLen {
		return invalid("descriptions are at most %d bytes", MaxDescriptionLen)
	}
	return nil
}

// normalizeCapacity checks the child cap and the start condition: a
// license that starts at N children must allow at least N.
func (in *LicenseInput) normalizeCapacity() error {
	if in.MaxChildren < 0 || in.MaxChildren > MaxChildrenLimit {
		return invalid("max_children %d out of 0..%d", in.MaxChildren, MaxChildrenLimit)
	}
	if in.StartAtChildren < 0 || in.StartAtChildren > MaxChildrenLimit {
		return invalid("start_at_children %d out of 0..%d", in.StartAtChildren, MaxChildrenLimit)
	}
	if in.MaxChildren > 0 && in.StartAtChildren > in.MaxChildren {
		return invalid("start_at_children %d above max_children %d: the license could never start", in.StartAtChildren, in.MaxChildren)
	}
	return nil
}

// normalizeLists checks the model range and the features and sorts both.
func (in *LicenseInput) normalizeLists() error {
	if len(in.Models) == 0 || len(in.Models) > limits.MaxModelPatterns {
		return invalid("models must list 1..%d patterns", limits.MaxModelPatterns)
	}
	for _, m := range in.Models {
		if err := ident.CheckModelPattern(m); err != nil {
			return invalid("%v", err)
		}
	}
	in.Models = slices.Compact(slices.Sorted(slices.Values(in.Models)))
	if len(in.Features) > limits.MaxFeatures {
		return invalid("at most %d features", limits.MaxFeatures)
	}
	for _, f := range in.Features {
		if err := ident.CheckFeature(f); err != nil {
			return invalid("%v", err)
		}
	}
	in.Features = slices.Compact(slices.Sorted(slices.Values(in.Features)))
	if in.Features == nil {
		in.Features = []string{}
	}
	return nil
}

// normalizeTerm checks the fields that only a standard term or a day license has.
func (in *LicenseInput) normalizeTerm() error {
	stdTerm := in.Type == token.TypeStandard && in.Billing == token.BillingTerm
	switch {
	case stdTerm && in.Months == 0:
		in.Months = DefaultMonths
	case !stdTerm && in.Months != 0:
		return invalid("months applies to standard term licenses only")
	}
	if stdTerm && (in.Months < 1 || in.Months > MaxMonths) {
		return invalid("months %d out of 1..%d", in.Months, MaxMonths)
	}
	if in.Billing == token.BillingDays && (in.Days < 1 || in.Days > limits.MaxPrepaidDays) {
		return invalid("days %d out of 1..%d", in.Days, limits.MaxPrepaidDays)
	}
	if in.Billing != token.BillingDays && in.Days != 0 {
		return invalid("days applies to day licenses only")
	}
	if in.Renew == nil {
		in.Renew = &stdTerm
	}
	if !stdTerm && (*in.Renew || in.CancellationDays != 0 || (in.Alignment != "" && in.Alignment != AlignAnniversary)) {
		return invalid("renew, cancellation period and alignment apply to standard term licenses only")
	}
	if in.CancellationDays < 0 || in.CancellationDays > MaxCancellationDays {
		return invalid("cancellation_days %d out of 0..%d", in.CancellationDays, MaxCancellationDays)
	}
	if in.Alignment == "" {
		in.Alignment = AlignAnniversary
	}
	_, err := ParseAlignment(in.Alignment)
	return err
}

// CreateLicenses creates in.Count identical licenses for a customer in the
// actor's issuing chain, all in one transaction. The actor's customer must
// be the vendor or an issuer, and the licenses within its limits.
func (lg *Ledger) CreateLicenses(ctx context.Context, a Actor, in LicenseInput) ([]LicenseView, error) {
	var out []LicenseView
	err := lg.update(func(o *op) error {
		c, err := o.visibleCustomer(a, in.CustomerID)
		if err != nil {
			return err
		}
		if err := o.canIssue(a, c); err != nil {
			return err
		}
		iss, err := o.issuer(a)
		if err != nil {
			return err
		}
		lim := o.limitsOf(iss)
		ls, err := o.createLicenses(a, in, mint{issuedBy: iss.ID, origin: iss.ID, limits: &lim})
		if err != nil {
			return err
		}
		for _, l := range ls {
			out = append(out, o.licenseView(a, l))
		}
		return nil
	})
	return out, err
}

// mint says who creates licenses and where they come down from: the
// issuer and its limits, or the system's automatic trial (no issuer, no
// limits, origin the customer itself).
type mint struct {
	issuedBy, origin string
	limits           *IssuerLimits
}

func (o *op) createLicenses(a Actor, in LicenseInput, m mint) ([]*License, error) {
	if err := in.normalize(int64(o.lg.maxOff / time.Second)); err != nil {
		return nil, err
	}
	if m.limits != nil {
		if err := m.limits.allows(m.issuedBy, &in); err != nil {
			return nil, err
		}
	}
	out := make([]*License, 0, in.Count)
	describer := ""
	if in.DistributorDescription != "" {
		describer = a.CustomerID
	}
	for range in.Count {
		serial, err := o.newSerial()
		if err != nil {
			return nil, err
		}
		l := &License{ID: newUUID(), Serial: serial, CustomerID: in.CustomerID, Type: in.Type, Billing: in.Billing,
			Models: in.Models, MaxSamplesPerHour: in.MaxSamplesPerHour, Enforcement: in.Enforcement,
			Features: in.Features, MaxChildren: in.MaxChildren, StartAtChildren: in.StartAtChildren, MaxOfflineSeconds: *in.MaxOfflineSeconds,
			DurationMonths: in.Months, RetentionDays: in.RetentionDays, TotalDays: in.Days, AvailableDays: in.Days,
			Renew: *in.Renew, CancellationDays: in.CancellationDays, Alignment: in.Alignment,
			DistributorDescription: in.DistributorDescription, CustomerDescription: in.CustomerDescription,
			DescribedBy: describer, IssuedBy: m.issuedBy, Origin: m.origin, CreatedAt: o.now, Version: 1}
		if l.Type == token.TypeStandard && l.Billing == token.BillingTerm && l.StartAtChildren == 0 {
			l.Start = TermStart(o.now)
			l.End = PeriodEnd(l.Start, l.DurationMonths, l.Alignment)
		}
		if err := o.putLicense(nil, l); err != nil {
			return nil, err
		}
		if err := o.indexIssued(l, l.CustomerID, a.UserID); err != nil {
			return nil, err
		}
		if err := o.audit(a, "license.create", "license", l.ID, l.CustomerID, nil, l); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// scheduled reports whether the scheduler must look at l at its End.
func (l *License) scheduled() bool {
	return l != nil && l.Billing == token.BillingTerm && !l.End.IsZero() && !l.ExpiryRecorded && !l.terminal()
}

// putLicense writes l and keeps every index in step with the change from
// before (nil for a new license), including the revocation list's entry
// that voids the tokens of a device or customer that lost it.
func (o *op) putLicense(before, l *License) error {
	x := o.x
	o.planNotice(l)
	if err := x.PutJSON(store.LicenseKey(l.ID), l); err != nil {
		return err
	}
	if err := o.indexNotice(before, l); err != nil {
		return err
	}
	if err := o.putStats(before, l); err != nil {
		return err
	}
	if err := o.recordHistory(before, l); err != nil {
		return err
	}
	if before != nil {
		if err := o.supersedeOnHolderChange(before, l); err != nil {
			return err
		}
	}
	if before == nil {
		if err := x.Put(store.SerialKey(l.Serial), []byte(l.ID)); err != nil {
			return err
		}
		before = &License{}
	}
	sum := l.summary()
	if before.CustomerID != l.CustomerID && before.CustomerID != "" {
		if err := x.Delete(store.LicenseByCustomerKey(before.CustomerID, l.ID)); err != nil {
			return err
		}
	}
	if err := x.Put(store.LicenseByCustomerKey(l.CustomerID, l.ID), sum); err != nil {
		return err
	}
	if before.DeviceID != l.DeviceID && before.DeviceID != "" {
		if err := x.Delete(store.LicenseByDeviceKey(before.DeviceID, l.ID)); err != nil {
			return err
		}
	}
	if l.DeviceID != "" {
		if err := x.Put(store.LicenseByDeviceKey(l.DeviceID, l.ID), sum); err != nil {
			return err
		}
	}
	if before.scheduled() && (!l.scheduled() || !before.End.Equal(l.End)) {
		if err := x.Delete(store.PeriodEndKey(before.End.Unix(), l.ID)); err != nil {
			return err
		}
	}
	if l.scheduled() {
		if err := x.Put(store.PeriodEndKey(l.End.Unix(), l.ID), nil); err != nil {
			return err
		}
	}
	return o.putLicenseOffline(before, l)
}

// deleteLicense removes l and its indexes.
func (o *op) deleteLicense(l *License) error {
	if err := o.putStats(l, nil); err != nil {
		return err
	}
	for _, k := range [][]byte{store.LicenseKey(l.ID), store.SerialKey(l.Serial),
		store.LicenseByCustomerKey(l.CustomerID, l.ID), store.PeriodEndKey(l.End.Unix(), l.ID)} {
		if err := o.x.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// license loads a license by id or serial.
func (o *op) license(idOrSerial string) (*License, error) {
	id := idOrSerial
	if !isUUID(id) {
		b, err := o.x.Get(store.SerialKey(idOrSerial))
		if err != nil {
			return nil, mapNotFound(err, "license", idOrSerial)
		}
		id = string(b)
	}
	var l License
	if err := o.x.GetJSON(store.LicenseKey(id), &l); err != nil {
		return nil, mapNotFound(err, "license", idOrSerial)
	}
	return &l, nil
}

// visibleLicense loads a license and its owner if the actor may see it.
func (o *op) visibleLicense(a Actor, idOrSerial string) (*License, *Customer, error) {
	l, err := o.license(idOrSerial)
	if err != nil {
		return nil, nil, err
	}
	c, err := o.customer(l.CustomerID)
	if err != nil {
		return nil, nil, err
	}
	if !o.sees(a, c) {
		return nil, nil, notFound("license", idOrSerial)
	}
	return l, c, nil
}

// licenseView hides the distributor description from everyone but the
// customer that wrote it, its ancestors and the vendor.
func (o *op) licenseView(a Actor, l *License) LicenseView {
	v := LicenseView{License: *l, Status: l.Status(o.now)}
	v.Origin = o.origin(l)
	if !o.readsDescription(a, l.DescribedBy, l.CustomerID) {
		v.DistributorDescription = ""
	}
	return v
}

// readsDescription reports whether a may read a distributor description
// written by describer (or, for records without one, by the issuing chain
// above owner).
func (o *op) readsDescription(a Actor, describer, owner string) bool {
	if a.system || a.CustomerID == o.lg.RootID() {
		return true
	}
	if describer == "" {
		c, err := o.customer(owner)
		return err == nil && o.isIssuerOf(a, c)
	}
	if describer == a.CustomerID {
		return true
	}
	c, err := o.customer(describer)
	return err == nil && slices.Contains(c.Path, a.CustomerID)
}

// GetLicense returns a license by id or serial.
func (lg *Ledger) GetLicense(ctx context.Context, a Actor, idOrSerial string) (*LicenseView, error) {
	var out LicenseView
	err := lg.view(func(o *op) error {
		l, _, err := o.visibleLicense(a, idOrSerial)
		if err != nil {
			return err
		}
		out = o.licenseView(a, l)
		return nil
	})
	return &out, err
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
