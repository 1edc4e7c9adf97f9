package broker

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
)

// retainedStoreFailed starts the line nats-server logs, for the client,
// each time it cannot store a retained message.
const retainedStoreFailed = "unable to store retained message"

// natsLogger forwards nats-server's log lines to slog. A retained message
// the broker refuses to store (storage.go) is counted and logged at debug:
// it is the policy working, and a device repeating it must not flood the
// log.
type natsLogger struct {
	log             *slog.Logger
	retainedRefused atomic.Uint64
}

func (l *natsLogger) Noticef(format string, v ...any) {
	l.log.Info(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Errorf(format string, v ...any) {
	if strings.Contains(format, retainedStoreFailed) {
		l.retainedRefused.Add(1)
		l.log.Debug(fmt.Sprintf(format, v...), "component", "broker")
		return
	}
	l.log.Error(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Debugf(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Tracef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "broker")
}
