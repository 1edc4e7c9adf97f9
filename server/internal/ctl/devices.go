package ctl

import (
	"context"
	"flag"
	"time"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func runUserCreate(ctx context.Context, x *invocation) error {
	var r wire.CreateUserResponse
	err := x.c.Do(ctx, "POST", "/v1/users", wire.CreateUserRequest{CustomerID: x.s("customer"), Email: x.s("email"), Role: x.s("role")}, &r)
	if err != nil {
		return err
	}
	return cli.Render(x.out, x.format, r, append(userHeader, "API_KEY", "INVITATION"),
		[][]string{append(userRow(&r.User), r.APIKey, x.c.Base+r.InvitationPath)})
}

func userCreateFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "customer", "customer id")
	v.str(fs, "email", "user email")
	v.str(fs, "role", "admin, operator or viewer")
}

func runUserList(ctx context.Context, x *invocation) error {
	var l wire.UserList
	if err := x.c.Do(ctx, "GET", "/v1/users?"+x.query("customer"), nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Users))
	for i := range l.Users {
		rows[i] = userRow(&l.Users[i])
	}
	return cli.Render(x.out, x.format, l, userHeader, rows)
}

func userListFlags(fs *flag.FlagSet, v *vals) { v.str(fs, "customer", "customer id") }

// runUserResetPassword prints a new console invitation link, where the
// user sets a new password (docs/console.md).
func runUserResetPassword(ctx context.Context, x *invocation) error {
	var r wire.PasswordResetResponse
	if err := x.c.Do(ctx, "POST", "/v1/users/"+esc(x.args[0])+"/reset-password", nil, &r); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, r, []string{"USER", "INVITATION", "EXPIRES"},
		[][]string{{r.UserID, x.c.Base + r.InvitationPath, r.InvitationExpiresAt.UTC().Format(time.RFC3339)}})
}

func runUserRevoke(ctx context.Context, x *invocation) error {
	var u wire.User
	if err := x.c.Do(ctx, "POST", "/v1/users/"+esc(x.args[0])+"/revoke", nil, &u); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, u, userHeader, [][]string{userRow(&u)})
}

func runDeviceCreate(ctx context.Context, x *invocation) error {
	var d wire.Device
	err := x.c.Do(ctx, "POST", "/v1/devices", wire.CreateDeviceRequest{ID: x.s("id"), CustomerID: x.s("customer"), Model: x.s("model"),
		PublicKey: x.s("public-key"), GatewayID: x.s("gateway"), Location: x.s("location")}, &d)
	if err != nil {
		return err
	}
	return cli.Render(x.out, x.format, d, deviceHeader, [][]string{deviceRow(&d)})
}

func deviceCreateFlags(fs *flag.FlagSet, v *vals) {
	for _, f := range []string{"customer", "id", "model", "public-key", "gateway", "location"} {
		v.str(fs, f, "device "+f)
	}
}

func runDeviceList(ctx context.Context, x *invocation) error {
	var l wire.DeviceList
	if err := x.c.Do(ctx, "GET", "/v1/devices?"+x.query("customer"), nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Devices))
	for i := range l.Devices {
		rows[i] = deviceRow(&l.Devices[i])
	}
	x.more(l.NextCursor)
	return cli.Render(x.out, x.format, l, deviceHeader, rows)
}

func deviceBlacklistFlags(fs *flag.FlagSet, v *vals) { v.str(fs, "reason", "why (shown to operators)") }

func runDeviceTokens(ctx context.Context, x *invocation) error {
	var l wire.TokenList
	if err := x.c.Do(ctx, "GET", "/v1/devices/"+esc(x.args[0])+"/tokens", nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Tokens))
	for i := range l.Tokens {
		rows[i] = tokenRow(&l.Tokens[i])
	}
	return cli.Render(x.out, x.format, l, tokenHeader, rows)
}

func deviceCall(method, suffix string, reason bool) func(ctx context.Context, x *invocation) error {
	return func(ctx context.Context, x *invocation) error {
		var body any
		if reason {
			body = wire.BlacklistRequest{Reason: x.s("reason")}
		}
		var d wire.Device
		if err := x.c.Do(ctx, method, "/v1/devices/"+esc(x.args[0])+suffix, body, &d); err != nil {
			return err
		}
		return cli.Render(x.out, x.format, d, deviceHeader, [][]string{deviceRow(&d)})
	}
}
