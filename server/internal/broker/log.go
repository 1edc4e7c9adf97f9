package broker

import (
	"fmt"
	"log/slog"
)

// natsLogger forwards nats-server's log lines to slog.
type natsLogger struct{ log *slog.Logger }

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
	l.log.Error(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Debugf(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Tracef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "broker")
}
