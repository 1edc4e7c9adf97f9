// Package drive runs simulated devices against agents: it asks each
// device's pattern which samples fall due in simulated time, encodes them
// and hands them to the agent through its real ingest path — HTTP
// POST /v1/samples, or for a gateway's children its local MQTT broker,
// where the agent's bridge picks them up.
package drive

import (
	"encoding/json"
	"strconv"
	"time"
)

// Via is how a device's samples reach its agent.
type Via string

// The ingest paths.
const (
	ViaHTTP   Via = "http"
	ViaBridge Via = "bridge"
)

// Device is one simulated device and what became of its samples.
type Device struct {
	ID  string
	Via Via
	// quoted is ID as a JSON string, encoded once.
	quoted []byte
	// topic is the local topic of a bridged child.
	topic string
	// n numbers the device's samples (the "n" of its data).
	n int64

	Sent     int64
	Accepted int64
	// Refused counts refusals by reason where the agent names them (HTTP);
	// bridged children's refusals are counted per gateway.
	Refused map[string]int64
}

// NewDevice returns a device fed through via.
func NewDevice(id string, via Via) *Device {
	q, _ := json.Marshal(id)
	return &Device{ID: id, Via: via, quoted: q, topic: "tollgate/local/" + id + "/samples", Refused: map[string]int64{}}
}

// appendData appends the sample's data object: a counter and two readings
// that vary with it, like a machine's sensors.
func appendData(b []byte, n int64) []byte {
	b = append(b, `{"n":`...)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, `,"temperature":`...)
	b = strconv.AppendInt(b, 18+n%9, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, n%10, 10)
	b = append(b, `,"pressure":1.`...)
	b = strconv.AppendInt(b, 100+n%97, 10)
	return append(b, '}')
}

// AppendSample appends one ingest sample of d at ts
// ({"device_id","ts","data"}, docs/api.md) and counts it as sent.
func (d *Device) AppendSample(b []byte, ts time.Time) []byte {
	d.n++
	d.Sent++
	b = append(b, `{"device_id":`...)
	b = append(b, d.quoted...)
	b = append(b, `,"ts":"`...)
	b = ts.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = appendData(b, d.n)
	return append(b, '}')
}

// AppendChildMessage appends the payload a child publishes to the local
// broker ({"ts","data"}: the topic names the child) and counts it as sent.
func (d *Device) AppendChildMessage(b []byte, ts time.Time) []byte {
	d.n++
	d.Sent++
	b = append(b, `{"ts":"`...)
	b = ts.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = appendData(b, d.n)
	return append(b, '}')
}
