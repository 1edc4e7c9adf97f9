package api

import (
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func toCustomer(c *ledger.Customer) wire.Customer {
	out := wire.Customer{ID: c.ID, Name: c.Name, ParentID: c.ParentID, Email: c.Email, Address: c.Address,
		VAT: c.VAT, AllowSuperiorManage: c.AllowSuperiorManage, Issuer: c.Issuer, CreatedAt: c.CreatedAt}
	if c.Issuer {
		out.IssuerLimits = &wire.IssuerLimits{AllowedMonths: c.IssuerLimits.AllowedMonths, MaxDays: c.IssuerLimits.MaxDays}
		if out.IssuerLimits.AllowedMonths == nil {
			out.IssuerLimits.AllowedMonths = []int{}
		}
	}
	return out
}

func toUser(u *ledger.User) wire.User {
	return wire.User{ID: u.ID, CustomerID: u.CustomerID, Email: u.Email, Role: string(u.Role), Revoked: u.Revoked, CreatedAt: u.CreatedAt}
}

func toDevice(d *ledger.Device) wire.Device {
	return wire.Device{ID: d.ID, CustomerID: d.CustomerID, Model: d.Model, GatewayID: d.GatewayID,
		Blacklisted: d.Blacklisted, BlacklistReason: d.BlacklistReason, PublicKey: d.PublicKey,
		KeyFingerprint: d.KeyFingerprint, Location: d.Location, CreatedAt: d.CreatedAt}
}

func toLicense(v *ledger.LicenseView) wire.License {
	l := &v.License
	out := wire.License{ID: l.ID, Serial: l.Serial, CustomerID: l.CustomerID, Type: l.Type, Billing: l.Billing,
		Status: string(v.Status), DeviceID: l.DeviceID, Models: l.Models, MaxSamplesPerHour: l.MaxSamplesPerHour,
		Enforcement: l.Enforcement, Features: l.Features, MaxChildren: l.MaxChildren, StartAtChildren: l.StartAtChildren, MaxOfflineSeconds: l.MaxOfflineSeconds,
		Months: l.DurationMonths, RetentionDays: l.RetentionDays, Renew: l.Renew, RenewEndsAt: timePtr(l.NoRenewFrom),
		CancellationDays: l.CancellationDays, Alignment: l.Alignment, Locked: l.Locked, TotalDays: l.TotalDays,
		AvailableDays: l.AvailableDays, PaidUntil: timePtr(l.PaidUntil), ActivatedAt: timePtr(l.ActivatedAt),
		Start: timePtr(l.Start), End: timePtr(l.End), CreatedAt: l.CreatedAt, Version: l.Version,
		DistributorDescription: l.DistributorDescription, CustomerDescription: l.CustomerDescription,
		TransferredTo: l.TransferredTo, TransferredFrom: l.TransferredFrom, IssuedBy: l.IssuedBy, Origin: l.Origin}
	if out.Models == nil {
		out.Models = []string{}
	}
	if out.Features == nil {
		out.Features = []string{}
	}
	return out
}

func toLicenses(vs []ledger.LicenseView) []wire.License {
	out := make([]wire.License, len(vs))
	for i := range vs {
		out[i] = toLicense(&vs[i])
	}
	return out
}

func toToken(t *ledger.LicenseToken) *wire.LicenseToken {
	if t == nil {
		return nil
	}
	return &wire.LicenseToken{LicenseID: t.LicenseID, DeviceID: t.DeviceID, Version: t.Version, NotAfter: t.NotAfter, Token: t.Token}
}

func toSale(s *ledger.Sale) wire.Sale {
	return wire.Sale{ID: s.ID, Kind: s.Kind, From: s.From, To: s.To, LicenseIDs: s.LicenseIDs, At: s.At, By: s.By}
}
