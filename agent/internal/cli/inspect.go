package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

func runInspect(ctx context.Context, env *IO, args []string) error {
	fs := newFlagSet("inspect")
	data := fs.String("data", "", "agent data directory: check signatures with its pinned trust and device key (env TOLLGATE_DATA)")
	trust := fs.String("trust", "", "trust bundle file to check server signatures with (env TOLLGATE_TRUST)")
	pub := fs.String("public-key", "", "device public key to check a usage receipt with")
	out := cli.OutputFlag(fs)
	var pos []string
	for { // flags may follow the file too: inspect FILE -o json
		if err := parse(env, fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) != 1 {
		return cli.Usagef("inspect: want one FILE or TOKEN")
	}
	input, err := inspectInput(pos[0])
	if err != nil {
		return err
	}
	keys, err := inspectKeys(ctx, env, *data, *trust, *pub)
	if err != nil {
		return errorCode(err)
	}
	return renderDescription(env, *out, input, keys)
}

// inspectInput is the argument itself when it is a tg1 text, else the
// file it names, bounded.
func inspectInput(arg string) ([]byte, error) {
	if strings.HasPrefix(arg, "tg1.") {
		return []byte(arg), nil
	}
	b, err := readBounded(arg, limits.MaxAirgapFileBytes)
	var ce *cli.Error
	if errors.As(err, &ce) {
		return nil, err
	}
	if err != nil {
		return nil, cli.Errorf("io", "%v", err)
	}
	return b, nil
}

// inspectKeys gathers the keys to verify with: --trust and --public-key,
// else the data directory's (not while the agent runs: its database is
// locked, and the signature is then reported as not checked).
func inspectKeys(ctx context.Context, env *IO, data, trustFile, pub string) (airgap.Keys, error) {
	var keys airgap.Keys
	if data != "" {
		a, err := runtime.Open(ctx, baseConfig(data), runtime.Options{Logger: env.Logger, Clock: env.Clock})
		switch {
		case errors.Is(err, store.ErrLocked):
		case err != nil:
			return keys, err
		default:
			keys, err = a.InspectKeys()
			if err = errors.Join(err, a.Close()); err != nil {
				return keys, err
			}
		}
	}
	if trustFile != "" {
		b, err := readBounded(trustFile, limits.MaxTrustBundleBytes)
		if err != nil {
			return keys, cli.Errorf("io", "trust bundle: %v", err)
		}
		if keys.Server, err = token.ParseTrustBundle(b); err != nil {
			return keys, err
		}
	}
	if pub != "" {
		k, err := token.ParsePublicKey(pub)
		if err != nil {
			return keys, err
		}
		if keys.Device, err = token.NewTrust(k); err != nil {
			return keys, err
		}
	}
	return keys, nil
}

// renderDescription prints what a document holds; a signature that does
// not verify is an error after the content is shown.
func renderDescription(env *IO, out cli.Format, input []byte, keys airgap.Keys) error {
	d, err := airgap.Describe(input, keys)
	if err != nil {
		return errorCode(err)
	}
	if err := cli.Render(env.Stdout, out, d, []string{"FIELD", "VALUE"}, d.Summary()); err != nil {
		return err
	}
	if d.Signature == airgap.SigInvalid {
		return cli.Errorf("bad_signature", "%s", d.SignatureNote)
	}
	return nil
}
