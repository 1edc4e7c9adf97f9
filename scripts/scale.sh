#!/usr/bin/env bash
# The scale test: firmware-sim drives 10,000 devices through 100 gateway
# agents (100 children each, every gateway with its own local Mosquitto,
# one Mosquitto upstream) and reports the samples per second delivered to
# the upstream broker and the peak RSS (VmHWM) of the gateway agents.
# Needs mosquitto (Debian package mosquitto). Knobs (environment):
# TOLLGATE_SCALE_GATEWAYS, _CHILDREN, _RATE (per simulated hour and device),
# _SPEED (clock speed), _MINUTES (simulated); see e2e/scale_test.go.
set -euo pipefail
cd "$(dirname "$0")/.."
TOLLGATE_SCALE=1 exec go test ./e2e -run '^TestScale$' -count=1 -v -timeout 60m
