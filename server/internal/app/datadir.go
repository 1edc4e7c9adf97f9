package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

// The data directory holds keys/ (the signing keys), ledger/ (badger) and,
// with the embedded broker, broker/ (JetStream).

// LedgerDir is where the badger ledger lives inside the data directory.
func LedgerDir(data string) string { return filepath.Join(data, "ledger") }

// keysDir is where the signing keys live inside the data directory.
func keysDir(data string) string { return filepath.Join(data, "keys") }

// BrokerDir is where the embedded broker keeps JetStream data (MQTT
// sessions, QoS 1 messages for offline subscribers) inside the data
// directory.
func BrokerDir(data string) string { return filepath.Join(data, "broker") }

// ErrNotInitialized reports a data directory that init has not set up: no
// such directory, or one without keys/ and ledger/.
var ErrNotInitialized = errors.New("not initialized")

// refusal is an error whose text is a whole sentence for the user while
// errors.Is still finds its sentinel, so the printed line does not repeat
// the code in words.
type refusal struct {
	sentinel error
	msg      string
}

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == r.sentinel }

// Refuse returns a *cli.Error with code whose text is the sentence format
// makes and that errors.Is matches with sentinel.
func Refuse(code string, sentinel error, format string, args ...any) error {
	return &cli.Error{Code: code, Err: &refusal{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}}
}

// CheckDataDir refuses a data directory that does not exist, before
// anything is created in it: a typo in --data must not leave a directory
// behind.
func CheckDataDir(data string) error {
	st, err := os.Stat(data)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !st.IsDir()) {
		return Refuse("not_initialized", ErrNotInitialized, "%s is not a directory; run tollgate-server init --data %s first", data, data)
	}
	if err != nil {
		return cli.Errorf("io", "%v", err)
	}
	return nil
}

// CheckInitialized refuses a data directory init has not set up (no
// keys/, or no ledger/ on badger), before anything is created in it.
func CheckInitialized(data, storeSpec string) error {
	if err := CheckDataDir(data); err != nil {
		return err
	}
	dirs := []string{keysDir(data), LedgerDir(data)}
	if store.IsPostgresURL(storeSpec) { // the ledger is in PostgreSQL: its root customer is checked on open
		dirs = dirs[:1]
	}
	for _, dir := range dirs {
		st, err := os.Stat(dir)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !st.IsDir()) {
			return Refuse("not_initialized", ErrNotInitialized, "%s has no %s; run tollgate-server init --data %s first", data, filepath.Base(dir), data)
		}
		if err != nil {
			return cli.Errorf("io", "%v", err)
		}
	}
	return nil
}

// KeyStoreError gives an error of the key store its stable code.
func KeyStoreError(err error) error {
	switch {
	case errors.Is(err, keys.ErrNoKeys):
		return cli.Errorf("no_keys", "%v", err)
	case errors.Is(err, keys.ErrInsecureFile):
		return cli.Errorf("insecure_key_file", "%v", err)
	case errors.Is(err, keys.ErrCorrupt):
		return cli.Errorf("corrupt_key_store", "%v", err)
	}
	return cli.Errorf("io", "%v", err)
}
