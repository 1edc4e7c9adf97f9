#!/usr/bin/env bash
# Makes sure the mosquitto binary is there for the interoperability tests.
# On CI (CI=true) it installs Debian's mosquitto package when it is missing
# and the script runs as root; elsewhere it only says what to install (the
# tests that need it then skip with the same message).
set -euo pipefail
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
  exit 0
fi
if [ "${CI:-}" = "true" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing mosquitto (Debian package) for the interop tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null
  exit 0
fi
echo "note: mosquitto is not installed; interop tests will skip (install the Debian package: apt-get install mosquitto)" >&2
