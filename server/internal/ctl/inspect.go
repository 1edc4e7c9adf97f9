package ctl

import (
	"context"
	"errors"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// runInspect works on files alone, with no server and no API key, so it
// parses its own flags instead of the REST commands' common ones.
func runInspect(_ context.Context, e *ctlEnv, args []string) error {
	args = append(args, e.lead...)
	fs := cli.Flags("inspect")
	trustFile := fs.String("trust", "", "trust bundle to check server signatures with (tollgate-server trust --out FILE)")
	pub := fs.String("public-key", "", "device public key to check a usage receipt with (tollgatectl device show DEV)")
	format := cli.OutputFlag(fs)
	// The global flags are taken and ignored: inspect talks to no server.
	fs.String("server", "", "ignored: inspect needs no server")
	fs.String("api-key", "", "ignored: inspect needs no API key")
	fs.String("ca", "", "ignored")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("want one FILE or TOKEN")
	}
	var keys airgap.Keys
	if *trustFile != "" {
		b, err := readLocal(*trustFile, limits.MaxTrustBundleBytes)
		if err != nil {
			return err
		}
		if keys.Server, err = token.ParseTrustBundle(b); err != nil {
			return cli.Errorf("invalid_trust_bundle", "%v", err)
		}
	}
	if *pub != "" {
		k, err := token.ParsePublicKey(*pub)
		if err == nil {
			keys.Device, err = token.NewTrust(k)
		}
		if err != nil {
			return cli.Errorf("invalid_public_key", "%v", err)
		}
	}
	input := []byte(pos[0])
	if !strings.HasPrefix(pos[0], "tg1.") {
		if input, err = readLocal(pos[0], limits.MaxAirgapFileBytes); err != nil {
			return err
		}
	}
	d, err := airgap.Describe(input, keys)
	if err != nil {
		return cli.Errorf(inspectCode(err), "%v", err)
	}
	if err := cli.Render(e.stdout, *format, d, []string{"FIELD", "VALUE"}, d.Summary()); err != nil {
		return err
	}
	if d.Signature == airgap.SigInvalid {
		return cli.Errorf("bad_signature", "%s", d.SignatureNote)
	}
	return nil
}

// inspectCode names why a document does not decode, with the codes the
// server's API uses for the same errors.
func inspectCode(err error) string {
	switch {
	case errors.Is(err, airgap.ErrFileTooLarge), errors.Is(err, token.ErrTooLarge):
		return "body_too_large"
	case errors.Is(err, airgap.ErrArmor):
		return "malformed_file"
	}
	return "malformed_document"
}
