package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ServicePrefix starts the MQTT username of an application that reads
// telemetry (svc:NAME); its password is an API key.
const ServicePrefix = "svc:"

// Standing is what the ledger says about a device holding a license.
type Standing struct {
	// CustomerID owns the device; it names the device's topics.
	CustomerID string
	// Children are the device ids a gateway may publish for besides itself.
	Children []string
	// Until is when the license stops allowing traffic, if earlier than the
	// token's own end (zero: the token's end applies).
	Until time.Time
	// MinVersion is the lowest token version of the license still valid
	// (0: any): a token the device kept from before it lost the license
	// and got it back is refused.
	MinVersion int64
}

// Ledger is the part of the server ledger the broker consults at CONNECT.
type Ledger interface {
	// DeviceStanding returns the standing of a device under a license, or an
	// error if the device is unknown or blacklisted, or the license is not
	// bound to it, or is revoked, suspended or expired.
	DeviceStanding(ctx context.Context, deviceID, licenseID string) (Standing, error)
	// ServiceCustomers returns the customers whose telemetry an API key may
	// read, or an error if the key is unknown, revoked or lacks the right.
	ServiceCustomers(ctx context.Context, name, apiKey string) ([]string, error)
}

// TokenAuthorizer authorizes devices by the license token they give as
// password and applications by API key.
type TokenAuthorizer struct {
	Trust  func() *token.Trust // the server's current trust (keys rotate)
	Ledger Ledger
	Clock  clock.Clock
}

// Authorize implements Authorizer.
func (a *TokenAuthorizer) Authorize(ctx context.Context, username, password string, _ *tls.ConnectionState) (Grant, error) {
	if name, ok := strings.CutPrefix(username, ServicePrefix); ok {
		return a.service(ctx, name, password)
	}
	if err := ident.CheckID("device_id", username); err != nil {
		return Grant{}, fmt.Errorf("%w: %v", ErrDenied, err)
	}
	lic, err := token.Verify(a.Trust(), password, clock.OrReal(a.Clock).Now())
	if err != nil {
		return Grant{}, fmt.Errorf("%w: token: %w", ErrDenied, err)
	}
	if lic.DeviceID != username {
		return Grant{}, fmt.Errorf("%w: token is for device %s", ErrDenied, lic.DeviceID)
	}
	st, err := a.Ledger.DeviceStanding(ctx, username, lic.LicenseID)
	if err != nil {
		return Grant{}, fmt.Errorf("%w: %w", ErrDenied, err)
	}
	if st.CustomerID != lic.CustomerID {
		return Grant{}, fmt.Errorf("%w: license moved to another customer", ErrDenied)
	}
	if lic.Version < st.MinVersion {
		return Grant{}, fmt.Errorf("%w: token version %d superseded (lowest valid %d)", ErrDenied, lic.Version, st.MinVersion)
	}
	deadline := time.Unix(lic.NotAfter, 0)
	if !st.Until.IsZero() && st.Until.Before(deadline) {
		deadline = st.Until
	}
	g := Grant{Identity: username, Deadline: deadline}
	for _, d := range append([]string{username}, st.Children...) {
		g.Publish = append(g.Publish, DeviceTopic(st.CustomerID, d, "#"))
	}
	g.Subscribe = []string{DeviceTopic(st.CustomerID, username, "control")}
	return g, nil
}

func (a *TokenAuthorizer) service(ctx context.Context, name, apiKey string) (Grant, error) {
	if err := ident.CheckID("service name", name); err != nil {
		return Grant{}, fmt.Errorf("%w: %v", ErrDenied, err)
	}
	customers, err := a.Ledger.ServiceCustomers(ctx, name, apiKey)
	if err != nil {
		return Grant{}, fmt.Errorf("%w: %w", ErrDenied, err)
	}
	if len(customers) == 0 {
		return Grant{}, fmt.Errorf("%w: the key sees no customer", ErrDenied)
	}
	g := Grant{Identity: ServicePrefix + name, Instances: true}
	for _, c := range customers {
		g.Subscribe = append(g.Subscribe, "tollgate/v1/"+c+"/+/telemetry")
	}
	return g, nil
}

// DeviceTopic returns tollgate/v1/CUSTOMER/DEVICE/LEAF.
func DeviceTopic(customerID, deviceID, leaf string) string {
	return "tollgate/v1/" + customerID + "/" + deviceID + "/" + leaf
}

// errNoLedger guards a TokenAuthorizer built without its parts.
var errNoLedger = errors.New("broker: TokenAuthorizer needs Trust and Ledger")

// Validate checks that the authorizer has what it needs.
func (a *TokenAuthorizer) Validate() error {
	if a.Trust == nil || a.Ledger == nil {
		return errNoLedger
	}
	return nil
}
