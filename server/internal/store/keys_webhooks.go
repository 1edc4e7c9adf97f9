package store

import "strconv"

// Keys of webhook endpoints, events and their deliveries
// (ledger/webhooks.go, ledger/events.go), built with the helpers of keys.go.

// WebhookKey is the record of one webhook endpoint.
func WebhookKey(id string) []byte { return key("wh", id) }

// WebhookByCustomerKey indexes an endpoint under the customer it belongs to.
func WebhookByCustomerKey(customer, id string) []byte { return key("whc", customer, id) }

// WebhookByCustomerPrefix is the prefix of every endpoint of customer.
func WebhookByCustomerPrefix(customer string) []byte { return prefix("whc", customer) }

// EventKey is the record of one event, by its stable id: the key's
// existence is what makes an event happen once.
func EventKey(id string) []byte { return key("ev", id) }

// DeliveryKey is the record of one delivery of an event to an endpoint.
func DeliveryKey(id string) []byte { return key("wd", id) }

// DeliveryByWebhookKey indexes a delivery under its endpoint, in the order
// the deliveries were made (seq).
func DeliveryByWebhookKey(webhook string, seq int64, id string) []byte {
	return key("wdw", webhook, num(seq), id)
}

// DeliveryByWebhookPrefix is the prefix of every delivery of an endpoint.
func DeliveryByWebhookPrefix(webhook string) []byte { return prefix("wdw", webhook) }

// DeliveryDueKey queues a pending delivery by the unix second of its next
// attempt: the deliverer reads the queue in order up to now.
func DeliveryDueKey(at int64, id string) []byte { return key("wdq", num(at), id) }

// DeliveryDuePrefix is the prefix of the whole delivery queue.
func DeliveryDuePrefix() []byte { return prefix("wdq") }

// DeliveryDoneKey indexes a finished (succeeded or failed) delivery by the
// unix second it finished, for pruning.
func DeliveryDoneKey(at int64, id string) []byte { return key("wdd", num(at), id) }

// DeliveryDonePrefix is the prefix of every DeliveryDoneKey.
func DeliveryDonePrefix() []byte { return prefix("wdd") }

// EventAtKey indexes an event by the unix second it was recorded, for
// pruning.
func EventAtKey(at int64, id string) []byte { return key("eva", num(at), id) }

// EventAtPrefix is the prefix of every EventAtKey.
func EventAtPrefix() []byte { return prefix("eva") }

// TimedParts splits a key of the form TABLE/NUM/ID (DeliveryDueKey,
// DeliveryDoneKey, EventAtKey) under prefix p into its time and id.
func TimedParts(p, k []byte) (int64, string, bool) {
	if len(k) < len(p)+22 || string(k[:len(p)]) != string(p) || k[len(p)+20] != sep {
		return 0, "", false
	}
	at, err := strconv.ParseInt(string(k[len(p):len(p)+20]), 10, 64)
	return at, string(k[len(p)+21:]), err == nil
}
