package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// ErrBadMessage reports a child's MQTT message that breaks the contract.
var ErrBadMessage = errors.New("invalid child message")

// Local topic scheme: a child device publishes each sample to
// tollgate/local/CHILD_ID/samples on the gateway's local broker.
const (
	topicPrefix = "tollgate/local/"
	topicSuffix = "/samples"
	// SubscribeTopic is the filter the bridge subscribes with.
	SubscribeTopic = topicPrefix + "+" + topicSuffix
)

// ChildTopic returns the local topic a child publishes its samples on.
func ChildTopic(childID string) string { return topicPrefix + childID + topicSuffix }

// ParseMessage strictly decodes one child message: the topic names the
// child; the payload is one sample ({"ts","data"}, device_id optional and
// then equal to the topic's), at most limits.MaxBridgePayloadBytes, with no
// unknown fields and no trailing data.
func ParseMessage(topic string, payload []byte) (wire.Sample, error) {
	id, ok := strings.CutPrefix(topic, topicPrefix)
	if ok {
		id, ok = strings.CutSuffix(id, topicSuffix)
	}
	if !ok {
		return wire.Sample{}, fmt.Errorf("%w: topic %q is not %s", ErrBadMessage, topic, SubscribeTopic)
	}
	if err := ident.CheckID("device_id", id); err != nil {
		return wire.Sample{}, fmt.Errorf("%w: topic: %v", ErrBadMessage, err)
	}
	if len(payload) > limits.MaxBridgePayloadBytes {
		return wire.Sample{}, fmt.Errorf("%w: payload is %d bytes, at most %d", ErrBadMessage, len(payload), limits.MaxBridgePayloadBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var s wire.Sample
	if err := dec.Decode(&s); err != nil {
		return wire.Sample{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if dec.More() {
		return wire.Sample{}, fmt.Errorf("%w: trailing data", ErrBadMessage)
	}
	if s.DeviceID != "" && s.DeviceID != id {
		return wire.Sample{}, fmt.Errorf("%w: device_id %q on the topic of %q", ErrBadMessage, s.DeviceID, id)
	}
	s.DeviceID = id
	if err := s.Validate(limits.MaxSampleDataBytes); err != nil {
		return wire.Sample{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return s, nil
}
