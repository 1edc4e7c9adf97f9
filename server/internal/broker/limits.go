package broker

import "time"

const (
	// authTimeout bounds one Authorizer call at CONNECT.
	authTimeout = 2 * time.Second
	// maxTrackedConnsPerIdentity bounds the connection ids remembered per
	// identity for Kick; older ones have been replaced by reconnects.
	maxTrackedConnsPerIdentity = 8
	// publishFlushTimeout bounds Publish's wait for the broker to route a
	// server message.
	publishFlushTimeout = 2 * time.Second
	// maxFiltersPerGrant bounds the topic filters of one grant (a gateway
	// publishes for itself and each child).
	maxFiltersPerGrant = 4096
)
