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
	if bytes.HasPrefix(EventKey("x"), WebhookKey("")) || bytes.HasPrefix(WebhookByCustomerKey("c", "w"), WebhookKey("c")) {
		t.Fatal("tables overlap")
	}
}
