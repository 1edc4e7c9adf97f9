package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// freeAddr is a loopback address no one listens on (it was free a moment
// ago), for a test that must know the port before New binds it.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// errorCode is the stable code of an App error ("" when it has none).
func errorCode(err error) string {
	var ce *cli.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

// released fails the test unless dir's badger and every address in addrs
// can be opened again: nothing New or Run opened is still held.
func released(t *testing.T, dir string, addrs ...string) {
	t.Helper()
	db, err := store.Open(store.Options{Dir: LedgerDir(dir), Profile: store.ProfileSmall,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("badger is still held: %v", err)
	}
	db.Close()
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is still held: %v", addr, err)
		}
		ln.Close()
	}
}

// TestServeBusyMQTTPortFailsAtOnce: a port held by another listener is
// named "address already in use" on one line, as --http does, instead of
// the broker's ready timeout, and nothing is logged besides.
func TestServeBusyMQTTPortFailsAtOnce(t *testing.T) {
	dir := t.TempDir()
	initData(t, dir)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))
	cfg := testConfig(dir, func(c *Config) { c.MQTTAddr = held.Addr().String() })
	start := clock.Real{}.Now()
	a, err := New(context.Background(), cfg, Deps{Clock: clock.Real{}, Logger: log})
	if err == nil {
		a.Close()
		t.Fatal("New served MQTT on a busy port")
	}
	msg := err.Error()
	if errorCode(err) != "listen" || !strings.Contains(msg, "address already in use") || strings.Contains(msg, "did not become ready") ||
		strings.Contains(msg, "\n") {
		t.Fatalf("error %q (code %q)", msg, errorCode(err))
	}
	if took := (clock.Real{}).Now().Sub(start); took > 5*time.Second {
		t.Fatalf("New took %v to refuse a busy port", took)
	}
	if logs.Len() != 0 {
		t.Fatalf("logged besides the error:\n%s", logs.String())
	}
}

// TestNewFailureClosesWhatItOpened: New fails at the broker, after it
// opened badger and the API listener; both are free again when it
// returns, and a second New on the same directory and address succeeds.
func TestNewFailureClosesWhatItOpened(t *testing.T) {
	dir := t.TempDir()
	initData(t, dir)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	httpAddr := freeAddr(t)
	cfg := testConfig(dir, func(c *Config) { c.HTTPAddr, c.MQTTAddr = httpAddr, held.Addr().String() })
	if a, err := New(context.Background(), cfg, Deps{Clock: clock.Real{}}); err == nil {
		a.Close()
		t.Fatal("New succeeded on a busy MQTT port")
	}
	released(t, dir, httpAddr)

	cfg.MQTTAddr = "127.0.0.1:0"
	a, err := New(context.Background(), cfg, Deps{Clock: clock.Real{}})
	if err != nil {
		t.Fatalf("New after the failed one: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	released(t, dir, httpAddr)
}

// TestRunClosesEverythingWhenDone: once Run returns after its context
// ended, the API and MQTT ports and badger are free.
func TestRunClosesEverythingWhenDone(t *testing.T) {
	dir := t.TempDir()
	initData(t, dir)
	httpAddr, mqttAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, testConfig(dir, func(c *Config) { c.HTTPAddr, c.MQTTAddr = httpAddr, mqttAddr }), Deps{Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	if a.HTTPURL() != "http://"+httpAddr || a.MQTTAddr() != mqttAddr {
		t.Fatalf("bound %s and %s, want %s and %s", a.HTTPURL(), a.MQTTAddr(), httpAddr, mqttAddr)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	released(t, dir, httpAddr, mqttAddr)
}

// TestNewRefusesAnUninitializedDirectory: New on a directory init did not
// set up refuses with not_initialized and creates nothing in it.
func TestNewRefusesAnUninitializedDirectory(t *testing.T) {
	for name, dir := range map[string]string{"missing": filepath.Join(t.TempDir(), "missing"), "empty": t.TempDir()} {
		t.Run(name, func(t *testing.T) {
			_, err := New(context.Background(), testConfig(dir), Deps{Clock: clock.Real{}})
			if !errors.Is(err, ErrNotInitialized) || errorCode(err) != "not_initialized" {
				t.Fatalf("New: %v", err)
			}
			entries, err := os.ReadDir(dir)
			if name == "missing" && !os.IsNotExist(err) || name == "empty" && len(entries) != 0 {
				t.Fatalf("New left %v behind (%v)", entries, err)
			}
		})
	}
}
