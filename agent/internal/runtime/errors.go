package runtime

import (
	"errors"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/identity"
	"github.com/tollgate-iot/tollgate/agent/internal/ingest"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/syncer"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// errorCodes maps domain errors to the stable codes the CLI prints as
// `error: CODE: …` and the local API returns in {"error":{"code"}}.
var errorCodes = []struct {
	target error
	code   string
}{
	// Air-gap codes go first: their errors may wrap token errors.
	{airgap.ErrKeyExpired, "key_expired"},
	{airgap.ErrStaleKey, "stale_key"},
	{airgap.ErrTrustMismatch, "trust_mismatch"},
	{airgap.ErrArmor, "malformed_file"},
	{airgap.ErrFileTooLarge, "too_large"},
	{airgap.ErrNotSelfSigned, "not_self_signed"},
	{ErrNotActivationKey, "not_an_activation_key"},

	{store.ErrLocked, "agent_running"},
	{ErrNotInitialized, "not_initialized"},
	{store.ErrExists, "already_initialized"},
	{identity.ErrExists, "already_initialized"},
	{ErrNoTrust, "no_trust"},
	{ErrTrustPinned, "trust_pinned"},
	{ErrTrustReplace, "trust_mismatch"},
	{ErrWrongDevice, "wrong_device"},
	{ErrModelMismatch, "model_mismatch"},
	{ErrUnknownDocument, "malformed"},
	{token.ErrRollback, "rollback"},
	{token.ErrBadSignature, "bad_signature"},
	{token.ErrUnknownKey, "unknown_key"},
	{token.ErrMalformed, "malformed"},
	{token.ErrTooLarge, "too_large"},
	{token.ErrUnsupportedVersion, "malformed"},
	{token.ErrWrongKind, "malformed"},
	{token.ErrWeakKey, "weak_key"},
	{config.ErrInvalid, "invalid_config"},
	{ingest.ErrLocalToken, "bad_local_token"},
	{store.ErrBadKey, "bad_state_key"},
	{store.ErrInsecureKeyFile, "insecure_key_file"},
	{identity.ErrInsecure, "insecure_key_file"},
	{identity.ErrMalformed, "corrupt_state"},
	{store.ErrCorrupt, "corrupt_state"},
}

// ErrorCode returns the stable code for err ("io" when none matches).
func ErrorCode(err error) string {
	var se *syncer.Error
	if errors.As(err, &se) {
		return se.Code
	}
	for _, c := range errorCodes {
		if errors.Is(err, c.target) {
			return c.code
		}
	}
	return "io"
}
