package broker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tollgate-iot/tollgate/shared/ident"
)

// ErrClientID reports a CONNECT whose MQTT client id is not bound to the
// identity it authenticated as. A client id names a session, and a CONNECT
// with the id of a connected session replaces that connection: were any id
// allowed, one device could disconnect another at will.
var ErrClientID = errors.New("mqtt client id not bound to the identity")

// checkClientID reports whether a client granted g may use clientID: a
// device only its own id, an application (g.Instances) its name or
// NAME/INSTANCE, INSTANCE in the id alphabet. The / cannot occur in an
// identity, so no identity's ids are another's.
func checkClientID(g Grant, clientID string) error {
	if clientID == g.Identity {
		return nil
	}
	want := g.Identity
	if g.Instances {
		if inst, ok := strings.CutPrefix(clientID, g.Identity+"/"); ok && ident.CheckID("instance", inst) == nil {
			return nil
		}
		want += " or " + g.Identity + "/INSTANCE (INSTANCE: letters, digits, - _ : @)"
	}
	return fmt.Errorf("%w: %q is not %s's; connect with client id %s", ErrClientID, clientID, g.Identity, want)
}

// mqttClientID returns the client id of the MQTT CONNECT being
// authorized. nats-server does not export it, but names the connection
// `ADDR - mid:N - "CLIENTID"` (Go-quoted) before it authorizes the CONNECT;
// the alternative, Connz filtered by N, copies the whole client table on
// every CONNECT. A name in any other form is refused (ok false), so a
// change in nats-server fails closed.
func mqttClientID(c server.ClientAuthentication) (string, bool) {
	s, ok := c.(fmt.Stringer)
	if !ok {
		return "", false
	}
	return mqttClientIDFrom(s.String(), c.GetID())
}

// mqttClientIDFrom parses the client id out of connection name s of
// connection id.
func mqttClientIDFrom(s string, id uint64) (string, bool) {
	marker := " - mid:" + strconv.FormatUint(id, 10) + " - "
	i := strings.Index(s, marker)
	if i < 0 {
		return "", false
	}
	cid, err := strconv.Unquote(s[i+len(marker):])
	if err != nil {
		return "", false
	}
	return cid, true
}
