package runtime

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/identity"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// InitRequest is what `tollgate-agent init` is given.
type InitRequest struct {
	DeviceID string
	Model    string
	Server   string
	// Trust is the trust bundle file to pin, or nil.
	Trust []byte
}

// Init creates a data directory: the device key (0600), the state key and
// the encrypted state database holding the identity and the pinned trust.
func Init(ctx context.Context, cfg config.Config, req InitRequest, o Options) (store.Identity, error) {
	if err := ident.CheckID("device_id", req.DeviceID); err != nil {
		return store.Identity{}, err
	}
	if err := ident.CheckModel(req.Model); err != nil {
		return store.Identity{}, err
	}
	if req.Trust != nil {
		if _, err := token.ParseTrustBundle(req.Trust); err != nil {
			return store.Identity{}, fmt.Errorf("trust bundle: %w", err)
		}
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return store.Identity{}, err
	}
	priv, err := identity.Create(DeviceKeyPath(cfg.Data))
	if errors.Is(err, identity.ErrExists) {
		// An init that died after writing the key: finish it with that key
		// (store.Init still refuses a data directory that is complete).
		priv, err = identity.Load(DeviceKeyPath(cfg.Data))
	}
	if err != nil {
		return store.Identity{}, err
	}
	keys := o.Keys
	if keys == nil {
		keys = store.FileKeyProvider{Path: cfg.StateKeyPath()}
	}
	key, err := keys.StateKey(ctx, true)
	if err != nil {
		return store.Identity{}, err
	}
	st, err := store.Open(ctx, store.Options{Dir: filepath.Join(cfg.Data, stateDir), Key: key, Logger: o.Logger, Clock: o.Clock})
	if err != nil {
		return store.Identity{}, err
	}
	id := store.Identity{
		DeviceID:  req.DeviceID,
		Model:     req.Model,
		PublicKey: token.EncodePublicKey(priv.Public().(ed25519.PublicKey)),
		CreatedAt: clock.OrReal(o.Clock).Now().Unix(),
		Server:    req.Server,
	}
	err = st.Init(id, req.Trust)
	return id, errors.Join(err, st.Close())
}
