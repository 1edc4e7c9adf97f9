package cli

import (
	"context"
	"errors"
	"os"

	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/limits"
)

func runInit(ctx context.Context, env *IO, args []string) error {
	fs := newFlagSet("init")
	data := fs.String("data", "", "agent data directory (env TOLLGATE_DATA)")
	dev := fs.String("device-id", "", "this device's id")
	model := fs.String("model", "", "this device's model")
	server := fs.String("server", "", "license server URL (env TOLLGATE_SERVER)")
	trust := fs.String("trust", "", "trust bundle file to pin (env TOLLGATE_TRUST)")
	out := cli.OutputFlag(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	if *data == "" || *dev == "" || *model == "" {
		return cli.Usagef("init: --data, --device-id and --model are required")
	}
	if fs.NArg() > 0 {
		return cli.Usagef("init: unexpected argument %q", fs.Arg(0))
	}
	req := runtime.InitRequest{DeviceID: *dev, Model: *model, Server: *server}
	if *trust != "" {
		b, err := readBounded(*trust, limits.MaxTrustBundleBytes)
		if err != nil {
			return cli.Errorf("io", "trust bundle: %v", err)
		}
		req.Trust = b
	}
	id, err := runtime.Init(ctx, baseConfig(*data), req, runtime.Options{Logger: env.Logger, Clock: env.Clock})
	if errors.Is(err, store.ErrExists) && *trust != "" {
		return cli.Errorf("already_initialized", "%v; to pin the trust bundle into it: tollgate-agent trust --data %s --trust %s", err, *data, *trust)
	}
	if err != nil {
		return errorCode(err)
	}
	doc := map[string]string{"device_id": id.DeviceID, "public_key": id.PublicKey}
	return cli.Render(env.Stdout, *out, doc, []string{"DEVICE_ID", "PUBLIC_KEY"}, [][]string{{id.DeviceID, id.PublicKey}})
}

// readBounded reads a file of at most max bytes.
func readBounded(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > int64(max) {
		return nil, cli.Errorf("too_large", "%s is %d bytes, at most %d", path, st.Size(), max)
	}
	b := make([]byte, st.Size())
	_, err = f.ReadAt(b, 0)
	if err != nil && st.Size() > 0 {
		return nil, err
	}
	return b, nil
}
