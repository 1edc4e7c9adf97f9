package drive

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/fleet"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/limits"
)

// ErrBridge reports a gateway's local broker that could not be used.
var ErrBridge = errors.New("local broker")

// bridgeSender publishes children's samples to the gateway's local broker
// (tollgate/local/CHILD/samples, QoS 1), as the children would, keeping at
// most limits.MaxBridgeInflight publishes waiting for their PUBACK.
type bridgeSender struct {
	c    mqtt.Client
	url  string
	toks []mqtt.Token
	buf  []byte
}

// dialBridge connects to the local broker of a gateway.
func dialBridge(url, clientID string) (*bridgeSender, error) {
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).
		SetCleanSession(true).SetAutoReconnect(true).SetOrderMatters(false).
		SetConnectTimeout(limits.MQTTConnectTimeout).SetWriteTimeout(limits.RequestTimeout)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(limits.MQTTConnectTimeout+5*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("%w: %s: connect: %v", ErrBridge, url, tok.Error())
	}
	return &bridgeSender{c: c, url: url, toks: make([]mqtt.Token, 0, limits.MaxBridgeInflight)}, nil
}

func (s *bridgeSender) add(ctx context.Context, d *Device, ts time.Time) error {
	s.buf = d.AppendChildMessage(s.buf[:0], ts)
	// paho keeps the payload until it is sent: give it its own copy.
	s.toks = append(s.toks, s.c.Publish(d.topic, 1, false, append([]byte(nil), s.buf...)))
	if len(s.toks) == limits.MaxBridgeInflight {
		return s.flush(ctx)
	}
	return nil
}

func (s *bridgeSender) flush(ctx context.Context) error {
	for _, t := range s.toks {
		select {
		case <-t.Done():
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(limits.RequestTimeout):
			return fmt.Errorf("%w: %s: no PUBACK within %v", ErrBridge, s.url, limits.RequestTimeout)
		}
		if err := t.Error(); err != nil {
			return fmt.Errorf("%w: %s: publish: %v", ErrBridge, s.url, err)
		}
	}
	s.toks = s.toks[:0]
	return nil
}

func (s *bridgeSender) close() { s.c.Disconnect(250) }

// probeTopic is where waitSubscribed publishes its probe: a local topic of
// no configured child, with a payload the bridge counts as received and
// refuses as invalid — it reaches no license, budget or refusal count.
const probeTopic = "tollgate/local/firmware-sim-probe/samples"

// waitSubscribed publishes a probe until the gateway's bridge counts a
// received message (tollgate_agent_bridge_received_total on its /metrics),
// so that no child's sample is published before the bridge subscribed: a
// broker drops messages nobody has subscribed to yet.
func (s *bridgeSender) waitSubscribed(ctx context.Context, t *fleet.Target, timeout time.Duration, sleep func(time.Duration) <-chan time.Time) error {
	before, err := bridgeReceived(ctx, t)
	if errors.Is(err, fleet.ErrNoMetrics) {
		// The agent serves its metrics elsewhere: the bridge cannot be
		// watched, so give it what a subscription takes, once.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sleep(limits.BridgeBlindWait):
			return nil
		}
	}
	if err != nil {
		return err
	}
	for waited := time.Duration(0); waited < timeout; waited += limits.ProbeInterval {
		tok := s.c.Publish(probeTopic, 1, false, []byte(`{"probe":"firmware-sim"}`))
		tok.WaitTimeout(limits.MQTTConnectTimeout)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sleep(limits.ProbeInterval):
		}
		n, err := bridgeReceived(ctx, t)
		if err != nil {
			return err
		}
		if n > before {
			return nil
		}
	}
	return fmt.Errorf("%w: %s: the agent at %s never received a message from it (is it running with --bridge %s?)", ErrBridge, s.url, t.Name, s.url)
}

// bridgeReceived reads tollgate_agent_bridge_received_total.
func bridgeReceived(ctx context.Context, t *fleet.Target) (int64, error) {
	m, err := t.FetchMetrics(ctx)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(m, "\n") {
		if v, ok := strings.CutPrefix(l, "tollgate_agent_bridge_received_total "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("%w: %s: metric %q", fleet.ErrStatus, t.Name, l)
			}
			return int64(n), nil
		}
	}
	return 0, nil
}
