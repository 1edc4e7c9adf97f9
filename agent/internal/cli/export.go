package cli

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

// exported is what export-usage reports.
type exported struct {
	Out string `json:"out"`
	runtime.Receipt
}

func runExport(ctx context.Context, env *IO, args []string) error {
	fs := newFlagSet("export-usage")
	data := fs.String("data", "", "agent data directory (env TOLLGATE_DATA)")
	cfgPath := fs.String("config", "", "agent config file, for gateways' children (env TOLLGATE_CONFIG)")
	outFile := fs.String("out", "", "usage receipt file to write")
	out := cli.OutputFlag(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	if *data == "" || *outFile == "" || fs.NArg() > 0 {
		return cli.Usagef("export-usage: want --data DIR --out FILE")
	}
	cfg, err := loadConfig(*data, *cfgPath)
	if err != nil {
		return errorCode(err)
	}
	file, r, err := exportUsage(ctx, env, cfg)
	if err != nil {
		return errorCode(err)
	}
	if err := writeFileAtomic(*outFile, file); err != nil {
		return err
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	seqs := "-"
	if r.Deductions > 0 {
		seqs = n(r.FirstSeq) + ".." + n(r.LastSeq)
	}
	return cli.Render(env.Stdout, *out, exported{Out: *outFile, Receipt: r},
		[]string{"WROTE", "DEVICE_ID", "DEDUCTIONS", "SEQS", "COUNTS", "MORE", "BYTES"},
		[][]string{{*outFile, r.DeviceID, strconv.Itoa(r.Deductions), seqs, strconv.Itoa(r.Counts), strconv.FormatBool(r.More), strconv.Itoa(r.Bytes)}})
}

// exportUsage builds the receipt from the data directory, or through the
// running agent when it holds the database.
func exportUsage(ctx context.Context, env *IO, cfg config.Config) ([]byte, runtime.Receipt, error) {
	a, err := runtime.Open(ctx, cfg, runtime.Options{Logger: env.Logger, Clock: env.Clock})
	if errors.Is(err, store.ErrLocked) {
		var out runtime.ExportedReceipt
		err := asCLI(remoteDo(ctx, cfg, http.MethodPost, "/v1/export-usage", nil, &out))
		return []byte(out.File), out.Receipt, err
	}
	if err != nil {
		return nil, runtime.Receipt{}, err
	}
	file, r, err := a.ExportUsage()
	return file, r, errors.Join(err, a.Close())
}
