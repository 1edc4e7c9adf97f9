package ctl

import (
	"context"
	"flag"
	"strconv"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

var webhookHeader = []string{"ID", "CUSTOMER", "URL", "EVENTS", "DISABLED", "FAILING_SINCE"}

func webhookRow(w *wire.Webhook) []string {
	disabled := strconv.FormatBool(w.Disabled)
	if w.Disabled && w.DisabledReason != "" {
		disabled += " (" + w.DisabledReason + ")"
	}
	return []string{w.ID, w.CustomerID, w.URL, strings.Join(w.Events, ","), disabled, day(w.FailingSince)}
}

var deliveryHeader = []string{"ID", "EVENT", "TYPE", "STATE", "ATTEMPTS", "LAST_STATUS", "LAST_ERROR", "CREATED", "NEXT_ATTEMPT"}

func deliveryRow(d *wire.Delivery) []string {
	status := "-"
	if d.LastStatus != 0 {
		status = strconv.Itoa(d.LastStatus)
	}
	return []string{d.ID, d.EventID, d.EventType, d.State, strconv.Itoa(d.Attempts), status, dash(d.LastError),
		day(&d.CreatedAt), day(d.NextAt)}
}

func webhookCreateFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "customer", "customer id whose subtree's events the endpoint receives")
	v.str(fs, "url", "http(s) URL to POST events to")
	v.str(fs, "events", "comma-separated event types, e.g. device.blacklisted,license.revoked")
}

func runWebhookCreate(ctx context.Context, x *invocation) error {
	var w wire.Webhook
	req := wire.CreateWebhookRequest{CustomerID: x.s("customer"), URL: x.s("url"), Events: splitList(x.s("events"))}
	if err := x.c.Do(ctx, "POST", "/v1/webhooks", req, &w); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, w, append(webhookHeader, "SECRET"), [][]string{append(webhookRow(&w), w.Secret)})
}

func runWebhookList(ctx context.Context, x *invocation) error {
	var l wire.WebhookList
	if err := x.c.Do(ctx, "GET", "/v1/webhooks?"+x.query("customer"), nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Webhooks))
	for i := range l.Webhooks {
		rows[i] = webhookRow(&l.Webhooks[i])
	}
	return cli.Render(x.out, x.format, l, webhookHeader, rows)
}

func runWebhookDelete(ctx context.Context, x *invocation) error {
	if err := x.c.Do(ctx, "DELETE", "/v1/webhooks/"+esc(x.args[0]), nil, nil); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, map[string]string{"deleted": x.args[0]}, []string{"DELETED"}, [][]string{{x.args[0]}})
}

func deliveriesFlags(fs *flag.FlagSet, v *vals) {
	v.num(fs, "limit", "most deliveries to list (default 100)")
}

func runWebhookDeliveries(ctx context.Context, x *invocation) error {
	path := "/v1/webhooks/" + esc(x.args[0]) + "/deliveries"
	if n := x.n("limit"); n > 0 {
		path += "?limit=" + strconv.FormatInt(n, 10)
	}
	var l wire.DeliveryList
	if err := x.c.Do(ctx, "GET", path, nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Deliveries))
	for i := range l.Deliveries {
		rows[i] = deliveryRow(&l.Deliveries[i])
	}
	return cli.Render(x.out, x.format, l, deliveryHeader, rows)
}

// deliveryCall POSTs to prefix+ID+suffix and prints the delivery it answers.
func deliveryCall(prefix, suffix string) func(context.Context, *invocation) error {
	return func(ctx context.Context, x *invocation) error {
		var d wire.Delivery
		if err := x.c.Do(ctx, "POST", prefix+esc(x.args[0])+suffix, nil, &d); err != nil {
			return err
		}
		return cli.Render(x.out, x.format, d, deliveryHeader, [][]string{deliveryRow(&d)})
	}
}
