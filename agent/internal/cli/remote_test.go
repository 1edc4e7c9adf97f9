package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
)

// TestRemoteCommandsPassTheGuard: status (GET) and sync (POST) reach a
// running agent that requires a local API token, when the token file is
// named by TOLLGATE_LOCAL_TOKEN_FILE, and are refused as unauthorized
// without it.
func TestRemoteCommandsPassTheGuard(t *testing.T) {
	data, _ := initAgent(t)
	tokenFile := filepath.Join(t.TempDir(), "local.token")
	if err := os.WriteFile(tokenFile, []byte(strings.Repeat("5f", 24)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Data, cfg.Ingest, cfg.LocalTokenFile = data, "127.0.0.1:0", tokenFile
	a, err := runtime.Open(context.Background(), cfg, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- a.Run(ctx, func(runtime.Addrs) { close(ready) }) }()
	<-ready
	t.Cleanup(func() { cancel(); <-done; a.Close() })

	if code, _, stderr := run(t, "status", "--data", data); code == 0 || !strings.Contains(stderr, "unauthorized") {
		t.Fatalf("status without the token: %d %q", code, stderr)
	}
	t.Setenv(envLocalTokenFile, tokenFile)
	if code, _, stderr := run(t, "status", "--data", data); code != 0 {
		t.Fatalf("status with the token: %d %q", code, stderr)
	}
	// The agent has no server: a sync that passed the guard fails on that,
	// not on its content type or token.
	if code, _, stderr := run(t, "sync", "--data", data); code == 0 || !strings.Contains(stderr, "no_server") {
		t.Fatalf("sync with the token: %d %q", code, stderr)
	}
}
