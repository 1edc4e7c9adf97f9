package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/cli"
	sharedlimits "github.com/tollgate-iot/tollgate/shared/limits"
)

func runActivate(ctx context.Context, env *IO, args []string) error {
	fs := newFlagSet("activate")
	data := fs.String("data", "", "agent data directory (env TOLLGATE_DATA)")
	cfgPath := fs.String("config", "", "agent config file, for gateways' children (env TOLLGATE_CONFIG)")
	server := fs.String("server", "", "license server URL to redeem a SERIAL or enrollment CODE online (env TOLLGATE_SERVER; default: init's --server)")
	out := cli.OutputFlag(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	if *data == "" || fs.NArg() != 1 {
		return cli.Usagef("activate: want --data DIR and one FILE, TOKEN, SERIAL or CODE")
	}
	input := fs.Arg(0)
	if redeemable(input) { // online activation (redeem.go)
		return runRedeem(ctx, env, *data, *cfgPath, *server, *out, input)
	}
	if !strings.HasPrefix(input, "tg1.") {
		b, err := readBounded(input, max(limits.MaxActivationFileBytes, sharedlimits.MaxAirgapFileBytes))
		if err != nil {
			return errorCode(err)
		}
		input = string(b)
	}
	docs, err := activationDocs(input)
	if err != nil {
		return errorCode(err)
	}
	cfg, err := loadConfig(*data, *cfgPath)
	if err != nil {
		return errorCode(err)
	}
	imported, err := activate(ctx, env, cfg, docs)
	if err != nil {
		return errorCode(err)
	}
	rows := make([][]string, 0, len(imported))
	for _, im := range imported {
		rows = append(rows, []string{im.Kind, im.ID, im.DeviceID, fmt.Sprint(im.Version), im.Result})
	}
	return cli.Render(env.Stdout, *out, map[string]any{"imported": imported},
		[]string{"KIND", "ID", "DEVICE_ID", "VERSION", "RESULT"}, rows)
}

// activate imports into the data directory, or through the running agent
// when it holds the database.
func activate(ctx context.Context, env *IO, cfg configT, docs []string) ([]runtime.Imported, error) {
	a, err := runtime.Open(ctx, cfg, runtime.Options{Logger: env.Logger, Clock: env.Clock})
	if errors.Is(err, store.ErrLocked) {
		return remoteActivate(ctx, cfg, docs)
	}
	if err != nil {
		return nil, err
	}
	imported, err := a.Activate(docs)
	return imported, errors.Join(err, a.Close())
}

// activationDocs splits activate's input: an armored air-gap file must be
// an activation key, applied whole (runtime/airgap.go); anything else is
// tokens and revocation lists.
func activationDocs(input string) ([]string, error) {
	if !strings.HasPrefix(input, "-----BEGIN ") {
		return runtime.SplitDocuments(input)
	}
	kind, text, err := airgap.Dearmor([]byte(input))
	if err != nil {
		return nil, err
	}
	if !runtime.IsActivationKey(text) {
		return nil, fmt.Errorf("%w: the file is a %s document (give it to tollgatectl)", runtime.ErrNotActivationKey, kind)
	}
	return []string{text}, nil
}
