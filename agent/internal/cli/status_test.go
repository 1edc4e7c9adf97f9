package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestStatusTable: on a real data directory holding a day license with no
// day left and a term license, the status table's columns line up under
// their headers, the day license reads no_days with no expiry (not active
// until its token window closes a year on), and the queue is a table of
// its own.
func TestStatusTable(t *testing.T) {
	data, pubText := initAgent(t)
	pub, _ := token.ParsePublicKey(pubText)
	_, days := testkit.License(t, "pump-1", pub, func(l *token.License) {
		l.Billing, l.Days = token.BillingDays, 0
	})
	_, term := testkit.License(t, "pump-1", pub, func(l *token.License) {
		l.LicenseID, l.Serial = "7f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b", "TG-TEST-0002"
	})
	for _, tok := range []string{days, term} {
		if code, _, stderr := run(t, "activate", "--data", data, tok); code != 0 {
			t.Fatalf("activate: %d %s", code, stderr)
		}
	}
	code, stdout, stderr := run(t, "status", "--data", data)
	if code != 0 {
		t.Fatalf("status: %d %s", code, stderr)
	}
	tables := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n\n")
	if len(tables) != 2 {
		t.Fatalf("want the license and queue tables:\n%s", stdout)
	}
	lines := strings.Split(tables[0], "\n")
	if len(lines) != 3 {
		t.Fatalf("license table:\n%s", tables[0])
	}
	starts := columnStarts(lines[0])
	if len(starts) != len(statusHeader) {
		t.Fatalf("header %q", lines[0])
	}
	want := map[string][]string{
		"6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b": {"pump-1", "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b", "no_days", "-", "0", "0", "2400"},
		"7f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b": {"pump-1", "7f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b", "active", "2027-12-01T12:00:00Z", "-", "0", "2400"},
	}
	for _, line := range lines[1:] {
		if got := columnStarts(line); !slices.Equal(got, starts) {
			t.Errorf("columns start at %v, header at %v:\n%s", got, starts, tables[0])
		}
		f := strings.Fields(line)
		if w := want[f[1]]; strings.Join(f, " ") != strings.Join(w, " ") {
			t.Errorf("row %q, want %q", f, w)
		}
	}
	q := strings.Split(tables[1], "\n")
	if len(q) != 2 || !slices.Equal(columnStarts(q[1]), columnStarts(q[0])) || strings.Join(strings.Fields(q[0]), " ") != "QUEUE_DEPTH DROPPED MAX" {
		t.Fatalf("queue table:\n%s", tables[1])
	}
}

// columnStarts returns the offsets at which the space-separated cells of
// a table line start.
func columnStarts(line string) []int {
	var out []int
	for i := range line {
		if line[i] != ' ' && (i == 0 || line[i-1] == ' ') {
			out = append(out, i)
		}
	}
	return out
}

// TestStatusTableShowsUpstream: a running agent's status ends with where
// it sends now — the broker, whether it is connected, the server its next
// sync tries first — and a stopped agent's has no such table.
func TestStatusTableShowsUpstream(t *testing.T) {
	st := runtime.Status{Queue: runtime.QueueStatus{Max: 10},
		Upstream: &runtime.UpstreamStatus{Broker: "tcp://b:1883", Connected: true, Server: "https://b:8443"}}
	var b strings.Builder
	if err := renderStatus(&b, cli.Table, st); err != nil {
		t.Fatal(err)
	}
	tables := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n\n")
	last := strings.Split(tables[len(tables)-1], "\n")
	if len(last) != 2 || strings.Join(strings.Fields(last[0]), " ") != "BROKER CONNECTED SERVER" ||
		strings.Join(strings.Fields(last[1]), " ") != "tcp://b:1883 true https://b:8443" {
		t.Fatalf("upstream table:\n%s", b.String())
	}
	st.Upstream = nil
	b.Reset()
	if err := renderStatus(&b, cli.Table, st); err != nil || strings.Contains(b.String(), "BROKER") {
		t.Fatalf("a stopped agent's status shows an upstream (%v):\n%s", err, b.String())
	}
}
