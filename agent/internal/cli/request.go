package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

func runRequest(ctx context.Context, env *IO, args []string) error {
	fs := newFlagSet("request")
	data := fs.String("data", "", "agent data directory (env TOLLGATE_DATA)")
	outFile := fs.String("out", "", "activation request file to write")
	out := cli.OutputFlag(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	if *data == "" || *outFile == "" || fs.NArg() > 0 {
		return cli.Usagef("request: want --data DIR --out FILE")
	}
	a, err := runtime.Open(ctx, baseConfig(*data), runtime.Options{Logger: env.Logger, Clock: env.Clock})
	if err != nil {
		return errorCode(err)
	}
	file, r, err := a.Request()
	if err = errors.Join(err, a.Close()); err != nil {
		return errorCode(err)
	}
	if err := writeFileAtomic(*outFile, file); err != nil {
		return err
	}
	doc := map[string]any{"out": *outFile, "bytes": len(file), "device_id": r.DeviceID, "model": r.Model,
		"public_key": r.PublicKey, "created_at": time.Unix(r.CreatedAt, 0).UTC()}
	return cli.Render(env.Stdout, *out, doc, []string{"WROTE", "DEVICE_ID", "MODEL", "PUBLIC_KEY", "BYTES"},
		[][]string{{*outFile, r.DeviceID, r.Model, r.PublicKey, strconv.Itoa(len(file))}})
}

// writeFileAtomic writes an air-gap file whole or not at all: a temporary
// file in the same directory, fsynced, then renamed over path.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(0o644), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return cli.Errorf("io", "%v", err)
	}
	return nil
}
