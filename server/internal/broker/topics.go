package broker

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrBadTopic reports an MQTT topic or filter the broker cannot map.
var ErrBadTopic = errors.New("bad mqtt topic")

// telemetrySubject matches tollgate/v1/CUSTOMER/DEVICE/telemetry.
const telemetrySubject = "tollgate.v1.*.*.telemetry"

// topicToSubject maps an MQTT topic (or, with wildcards, a filter) to the
// NATS subject the embedded server uses for it: / separates tokens, + is *,
// a trailing # is >, and a literal . becomes // (as nats-server does).
func topicToSubject(topic string, wildcards bool) (string, error) {
	if topic == "" || strings.HasPrefix(topic, "/") || strings.HasSuffix(topic, "/") || strings.Contains(topic, "//") {
		return "", fmt.Errorf("%w: %q: empty level", ErrBadTopic, topic)
	}
	levels := strings.Split(topic, "/")
	for i, l := range levels {
		switch {
		case l == "+" && wildcards:
			levels[i] = "*"
		case l == "#" && wildcards && i == len(levels)-1:
			levels[i] = ">"
		case strings.ContainsAny(l, "+#*> \t\r\n\x00\x7f"):
			return "", fmt.Errorf("%w: %q: level %q", ErrBadTopic, topic, l)
		default:
			levels[i] = strings.ReplaceAll(l, ".", "//")
		}
	}
	return strings.Join(levels, "."), nil
}

// telemetryDevice returns DEVICE from tollgate.v1.CUSTOMER.DEVICE.telemetry.
func telemetryDevice(subject string) (string, bool) {
	parts := strings.Split(subject, ".")
	if len(parts) != 5 || parts[0] != "tollgate" || parts[1] != "v1" || parts[4] != "telemetry" {
		return "", false
	}
	return strings.ReplaceAll(parts[3], "//", "."), true
}

// permissions turns a grant into NATS permissions: allow exactly the granted
// filters, deny everything else.
func permissions(g Grant) (*server.Permissions, error) {
	if len(g.Publish)+len(g.Subscribe) > maxFiltersPerGrant {
		return nil, fmt.Errorf("%w: %d filters, at most %d", ErrBadTopic, len(g.Publish)+len(g.Subscribe), maxFiltersPerGrant)
	}
	pub, err := subjects(g.Publish)
	if err != nil {
		return nil, err
	}
	sub, err := subjects(g.Subscribe)
	if err != nil {
		return nil, err
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: sub},
	}, nil
}

func subjects(filters []string) ([]string, error) {
	out := make([]string, 0, len(filters))
	for _, f := range filters {
		s, err := topicToSubject(f, true)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		// MQTT's a/# also matches a itself; nats-server subscribes to both
		// a and a.> and needs permission for each.
		if parent, ok := strings.CutSuffix(s, ".>"); ok {
			out = append(out, parent)
		}
	}
	if len(out) == 0 {
		// An empty allow list means "allow all" to nats-server; a subject
		// no MQTT topic can map to means "nothing".
		out = append(out, "$TOLLGATE.NOTHING")
	}
	return out, nil
}
