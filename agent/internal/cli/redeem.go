package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/redeem"
)

// redeemable reports whether activate's argument is a code to redeem
// online: not a token, not an existing file, and shaped like a serial or
// an enrollment code (a path with a dot or a slash never is).
func redeemable(arg string) bool {
	if strings.HasPrefix(arg, "tg1.") || redeem.CheckCode(redeem.NormalizeCode(arg)) != nil {
		return false
	}
	_, err := os.Stat(arg)
	return errors.Is(err, os.ErrNotExist)
}

// runRedeem is `tollgate-agent activate KEY` for a license serial or an
// enrollment code: online activation with the license server (--server,
// else the config's, else init's --server). It prints what was imported,
// as activate does for a file.
func runRedeem(ctx context.Context, env *IO, data, cfgPath, server string, out cli.Format, code string) error {
	cfg, err := loadConfig(data, cfgPath)
	if err != nil {
		return errorCode(err)
	}
	overrideString(&cfg.Server, server)
	imported, err := redeemCode(ctx, env, cfg, code)
	if err != nil {
		var ce *cli.Error
		if errors.As(err, &ce) && ce.Code == "no_server" || runtime.ErrorCode(err) == "no_server" {
			return cli.Errorf("no_server", "%q is neither a file nor a tg1. token, and no license server is configured "+
				"to redeem it online (init --server URL, --server URL or TOLLGATE_SERVER)", code)
		}
		return err
	}
	if imported == nil {
		imported = []runtime.Imported{}
	}
	licensed := false
	rows := make([][]string, 0, len(imported))
	for _, im := range imported {
		licensed = licensed || im.Kind == "license"
		rows = append(rows, []string{im.Kind, im.ID, im.DeviceID, fmt.Sprint(im.Version), im.Result})
	}
	if !licensed {
		fmt.Fprintln(env.Stderr, "registered with the license server; no license is bound yet: it arrives with the next sync once one is")
	}
	return cli.Render(env.Stdout, out, map[string]any{"imported": imported},
		[]string{"KIND", "ID", "DEVICE_ID", "VERSION", "RESULT"}, rows)
}

// redeemCode redeems from the data directory, or through the running agent
// when it holds the database (with the running agent's own server).
func redeemCode(ctx context.Context, env *IO, cfg configT, code string) ([]runtime.Imported, error) {
	a, err := runtime.Open(ctx, cfg, runtime.Options{Logger: env.Logger, Clock: env.Clock})
	if errors.Is(err, store.ErrLocked) {
		var out struct {
			Imported []runtime.Imported `json:"imported"`
		}
		err := remoteDoWithin(ctx, cfg, limits.ControlSyncTimeout, http.MethodPost, "/v1/redeem", map[string]string{"code": code}, &out)
		return out.Imported, asCLI(err)
	}
	if err != nil {
		return nil, errorCode(err)
	}
	imported, err := a.Redeem(ctx, code)
	if err = errors.Join(err, a.Close()); err != nil {
		return nil, errorCode(err)
	}
	return imported, nil
}
