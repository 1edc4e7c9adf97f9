package e2e

import (
	"os"
	"testing"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
)

// TestMain removes what the tests built (once, on first use, through
// harness.Build) when they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}
