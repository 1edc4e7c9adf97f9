package store

import (
	"bytes"
	"testing"
)

func TestWebhookKeys(t *testing.T) {
	if !bytes.HasPrefix(WebhookByCustomerKey("c1", "w1"), WebhookByCustomerPrefix("c1")) ||
		bytes.HasPrefix(WebhookByCustomerKey("c10", "w1"), WebhookByCustomerPrefix("c1")) {
		t.Fatal("webhook index prefix matches the wrong customer")
	}
	if !bytes.HasPrefix(DeliveryByWebhookKey("w1", 7, "d"), DeliveryByWebhookPrefix("w1")) ||
		bytes.HasPrefix(DeliveryByWebhookKey("w10", 7, "d"), DeliveryByWebhookPrefix("w1")) {
		t.Fatal("delivery index prefix matches the wrong endpoint")
	}
	if bytes.Compare(DeliveryDueKey(9, "z"), DeliveryDueKey(10, "a")) >= 0 {
		t.Fatal("due queue is not in time order")
	}
	if !bytes.HasPrefix(DeliveryDueKey(1, "x"), DeliveryDuePrefix()) || bytes.HasPrefix(DeliveryByWebhookKey("w", 1, "x"), DeliveryDuePrefix()) {
		t.Fatal("due prefix")
	}
	for _, c := range []struct {
		p, k []byte
	}{{DeliveryDuePrefix(), DeliveryDueKey(42, "dlv_a")}, {DeliveryDonePrefix(), DeliveryDoneKey(42, "dlv_a")}, {EventAtPrefix(), EventAtKey(42, "dlv_a")}} {
		if at, id, ok := TimedParts(c.p, c.k); !ok || at != 42 || id != "dlv_a" {
			t.Fatalf("TimedParts(%s) = %d %q %v", c.k, at, id, ok)
		}
	}
	if _, _, ok := TimedParts(DeliveryDuePrefix(), DeliveryDoneKey(1, "x")); ok {
		t.Fatal("TimedParts accepted another table's key")
	}
	if _, _, ok := TimedParts(EventAtPrefix(), []byte("eva/123")); ok {
		t.Fatal("TimedParts accepted a short key")
	}
	if bytes.HasPrefix(EventKey("x"), WebhookKey("")) || bytes.HasPrefix(WebhookByCustomerKey("c", "w"), WebhookKey("c")) {
		t.Fatal("tables overlap")
	}
}
