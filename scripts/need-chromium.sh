#!/usr/bin/env bash
# Makes sure Chromium is there for the web console's browser tests
# (server/internal/console). On CI (CI=true) it installs Debian's chromium
# package when it is missing and the script runs as root; elsewhere it only
# says what to install (the browser tests then skip with the same message;
# on CI they fail instead).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "${CI:-}" = "true" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (Debian package) for the console's browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "note: chromium is not installed; the console's browser tests will skip (install the Debian package: apt-get install chromium)" >&2
