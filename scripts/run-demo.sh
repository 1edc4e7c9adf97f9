#!/usr/bin/env bash
# make run: what the demo can show today. The full demo — server with its
# embedded broker, agents and a simulated fleet — arrives with the
# firmware-sim issue; until then this sets up and shows the server's signing
# keys and the trust bundle that agents pin, using the real binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=.demo
mkdir -p "$demo"
echo "== Tollgate demo (foundation stage): the full fleet demo is not built yet"
if ! bin/tollgate-server keys list --data "$demo/server" >/dev/null 2>&1; then
  bin/tollgate-server keys rotate --data "$demo/server" >/dev/null
fi
echo "== signing keys in $demo/server/keys (private keys stay there, mode 0600)"
bin/tollgate-server keys list --data "$demo/server"
bin/tollgate-server trust --data "$demo/server" --out "$demo/trust.json"
echo "== development certificates in certs/dev"
ls certs/dev
echo
echo "Next: bin/tollgate-server keys rotate --data $demo/server   (adds a key; old tokens still verify)"
