package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/limits"
)

// runTrust is `tollgate-agent trust`: pin the license server's trust
// bundle in a data directory made without one, or replace the pinned one
// with --replace.
func runTrust(ctx context.Context, env *IO, args []string) error {
	fs := newFlagSet("trust")
	data := fs.String("data", "", "agent data directory (env TOLLGATE_DATA)")
	trust := fs.String("trust", "", "trust bundle file to pin (env TOLLGATE_TRUST)")
	replace := fs.Bool("replace", false, "replace a different pinned bundle (logged; tokens only the old keys signed stop verifying)")
	out := cli.OutputFlag(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	if *data == "" || *trust == "" || fs.NArg() > 0 {
		return cli.Usagef("trust: want --data DIR --trust FILE")
	}
	b, err := readBounded(*trust, limits.MaxTrustBundleBytes)
	if err != nil {
		return cli.Errorf("io", "trust bundle: %v", err)
	}
	res, err := runtime.PinTrust(ctx, baseConfig(*data), b, *replace, runtime.Options{Logger: env.Logger, Clock: env.Clock})
	if errors.Is(err, store.ErrLocked) {
		return cli.Errorf("agent_running", "the agent is running on %s: stop it, pin the trust bundle, start it again", *data)
	}
	if err != nil {
		return errorCode(err)
	}
	return cli.Render(env.Stdout, *out, res, []string{"RESULT", "FINGERPRINT", "KEY_IDS", "PREVIOUS"},
		[][]string{{res.Result, res.Fingerprint, strings.Join(res.KeyIDs, ","), first(res.Previous, "-")}})
}
