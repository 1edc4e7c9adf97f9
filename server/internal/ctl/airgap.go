package ctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Air-gapped sites (docs/design.md#air-gapped-sites): activation keys out, usage receipts in.
func runActivationOffline(ctx context.Context, x *invocation) error {
	if x.s("request") == "" || x.s("license") == "" || x.s("out") == "" {
		return cli.Usagef("activation offline: --request, --license and --out are required")
	}
	req, err := readLocal(x.s("request"), wire.MaxActivationRequestBytes)
	if err != nil {
		return err
	}
	var k wire.ActivationKey
	in := wire.OfflineActivationRequest{Request: string(req), LicenseID: x.s("license")}
	if err := x.c.Do(ctx, "POST", "/v1/activations/offline", in, &k); err != nil {
		return err
	}
	return writeKey(x, &k)
}

func activationOfflineFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "request", "activation request file the device wrote (tollgate-agent request)")
	v.str(fs, "license", "license id or serial to bind")
	v.str(fs, "out", "activation key file to write")
}

func runActivationKey(ctx context.Context, x *invocation) error {
	if x.s("device") == "" || x.s("out") == "" {
		return cli.Usagef("activation key: --device and --out are required")
	}
	var k wire.ActivationKey
	if err := x.c.Do(ctx, "POST", "/v1/devices/"+esc(x.s("device"))+"/activation-key", nil, &k); err != nil {
		return err
	}
	return writeKey(x, &k)
}

func activationKeyFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "device", "registered device id")
	v.str(fs, "out", "activation key file to write")
}

func runUsageImport(ctx context.Context, x *invocation) error {
	file, err := readLocal(x.args[0], wire.MaxUsageReceiptBytes)
	if err != nil {
		return err
	}
	var u wire.UsageImport
	if err := x.c.DoText(ctx, "POST", "/v1/usage/import", file, &u); err != nil {
		return err
	}
	return cli.Render(x.out, x.format, u, importHeader, [][]string{importRow(&u)})
}

// readLocal reads a file of at most max bytes.
func readLocal(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cli.Errorf("io", "%v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, cli.Errorf("io", "%s: %v", path, err)
	}
	if len(b) > max {
		return nil, cli.Errorf("body_too_large", "%s is over %d bytes", path, max)
	}
	return b, nil
}

// writtenKey is what tollgatectl reports after writing an activation key.
type writtenKey struct {
	Out   string `json:"out"`
	Bytes int    `json:"bytes"`
	wire.ActivationKey
}

func writeKey(x *invocation, k *wire.ActivationKey) error {
	out := x.s("out")
	if err := os.WriteFile(out, []byte(k.File), 0o644); err != nil {
		return cli.Errorf("io", "%v", err)
	}
	w := writtenKey{Out: out, Bytes: len(k.File), ActivationKey: *k}
	w.File = ""
	lic := "-"
	if k.License != nil {
		lic = k.License.ID
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	row := []string{out, k.DeviceID, strconv.FormatBool(k.DeviceCreated), lic, n(k.Seq), strconv.Itoa(k.Tokens),
		n(k.RevocationSeq), k.IssuedAt.UTC().Format("2006-01-02T15:04:05Z"), k.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"), strconv.Itoa(len(k.File))}
	return cli.Render(x.out, x.format, w, keyHeader, [][]string{row})
}

var keyHeader = []string{"WROTE", "DEVICE", "DEVICE_CREATED", "LICENSE", "SEQ", "TOKENS", "REVOCATION_SEQ", "ISSUED_AT", "EXPIRES_AT", "BYTES"}

var importHeader = []string{"DEVICE", "DUPLICATE", "DEDUCTIONS", "COUNTS", "ACKED_SEQ", "HIGHEST_SEQ", "GAPS",
	"FORKS", "NEW_FORKS", "OVERDRAFTS", "NEW_OVERDRAFTS"}

func importRow(u *wire.UsageImport) []string {
	gaps := make([]string, len(u.Gaps))
	for i, g := range u.Gaps {
		gaps[i] = fmt.Sprintf("%d-%d", g.From, g.To)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []string{u.DeviceID, strconv.FormatBool(u.Duplicate), strconv.Itoa(u.Deductions), strconv.Itoa(u.Counts),
		n(u.AckedSeq), n(u.HighestSeq), dash(strings.Join(gaps, " ")), n(u.Forks), n(u.NewForks), n(u.Overdrafts), n(u.NewOverdrafts)}
}
