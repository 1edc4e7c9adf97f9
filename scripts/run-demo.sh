#!/usr/bin/env bash
# make run: the demo of what Tollgate can do today, with the real binaries.
#
# It starts a license server on a free loopback port, provisions a
# distributor, a customer, a device and a 3-day prepaid license with a
# sample budget, and runs the device's agent on a clock that passes one
# hour per second. Samples go in through the agent's local ingest API; the
# agent enforces the license offline — budget, day deductions, and the
# self-blacklist when the days run out — and the story is printed at the end.
#
# Accepted samples go out over MQTT to the server's embedded broker, where
# the device logs in with its license token. Not in this demo yet (the next
# issues): agent↔server sync, air-gap files, firmware-sim's simulated fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v curl >/dev/null || { echo "error: make run needs curl (Debian package curl)" >&2; exit 1; }

bin=$PWD/bin
demo=$PWD/.demo
rm -rf "$demo"
mkdir -p "$demo"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM # exit through the EXIT trap, so the server and agent stop too

wait_for_line() { # FILE PATTERN → prints the first matching line
  for _ in $(seq 1 100); do
    if line=$(grep -m1 "$2" "$1" 2>/dev/null); then echo "$line"; return 0; fi
    sleep 0.1
  done
  echo "error: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

echo "== 1. license server"
admin_key=$("$bin/tollgate-server" init --data "$demo/server" --name "Tollgate Vendor" -o json | sed -n 's/.*"admin_api_key": *"\([^"]*\)".*/\1/p')
"$bin/tollgate-server" serve --data "$demo/server" --http 127.0.0.1:0 --mqtt 127.0.0.1:0 >"$demo/server.log" 2>&1 &
pids+=($!)
server_url=$(wait_for_line "$demo/server.log" '^http: ' | sed 's/^http: //')
mqtt_addr=$(wait_for_line "$demo/server.log" '^mqtt: ' | sed 's/^mqtt: //')
echo "   serving $server_url, MQTT broker on $mqtt_addr (log: $demo/server.log)"
export TOLLGATE_SERVER=$server_url TOLLGATE_API_KEY=$admin_key
ctl() { "$bin/tollgatectl" "$@"; }

echo "== 2. distributor, customer, device, a 3-day license of 60 samples/hour"
ctl customer create --id northwind --name "Northwind Distribution" --email ops@northwind.test >/dev/null
dist_key=$(ctl user create --customer northwind --email ops@northwind.test --role admin -o json | sed -n 's/.*"api_key": *"\([^"]*\)".*/\1/p')
dist() { TOLLGATE_API_KEY=$dist_key "$bin/tollgatectl" "$@"; }
dist customer create --id acme --name "Acme Plastics" --parent northwind --email it@acme.test >/dev/null
acme_key=$(dist user create --customer acme --email it@acme.test --role admin -o json | sed -n 's/.*"api_key": *"\([^"]*\)".*/\1/p')
acme() { TOLLGATE_API_KEY=$acme_key "$bin/tollgatectl" "$@"; }
"$bin/tollgate-server" trust --data "$demo/server" --out "$demo/trust.json" >/dev/null
pub=$("$bin/tollgate-agent" init --data "$demo/press-01" --device-id press-01 --model sensor-a --trust "$demo/trust.json" -o json | sed -n 's/.*"public_key": *"\([^"]*\)".*/\1/p')
acme device create --customer acme --id press-01 --model sensor-a --public-key "$pub" >/dev/null
license=$(ctl license create --customer northwind --type standard --billing days --days 3 --models 'sensor-*' --max-samples-per-hour 60 -o json | sed -n 's/.*"id": *"\([0-9a-f-]\{36\}\)".*/\1/p' | head -1)
dist license sell --to acme --ids "$license" >/dev/null
acme license bind "$license" --device press-01 >/dev/null
token=$(acme license token "$license" -o json | sed -n 's/.*"token": *"\(tg1[^"]*\)".*/\1/p')
"$bin/tollgate-agent" activate --data "$demo/press-01" "$token" >/dev/null
acme license show "$license"

echo "== 3. the agent, deciding offline on a clock that runs 7200× (two hours per second), publishing to the broker"
"$bin/tollgate-agent" run --data "$demo/press-01" --broker "tcp://$mqtt_addr" --ingest 127.0.0.1:0 --clock-speed 7200 --clock-origin "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$demo/agent.log" 2>&1 &
pids+=($!)
ingest=$(wait_for_line "$demo/agent.log" 'ingest listening on' | sed 's/.*listening on //')
echo "   ingest on $ingest (log: $demo/agent.log)"

echo "== 4. a machine sending 100 samples per simulated hour (the budget allows 60×24 a day) for ~4 simulated days"
batch='{"samples":['$(printf '{"data":{"pressure":1.2}},%.0s' $(seq 1 99))'{"data":{"pressure":1.2}}]}'
accepted=0; refused=0
declare -A reasons
start=$(date +%s.%N)
for i in $(seq 1 100); do
  answer=$(curl -s -X POST "http://$ingest/v1/samples" -H 'Content-Type: application/json' -d "$batch")
  a=$(grep -o '"accepted":true' <<<"$answer" | wc -l || true); accepted=$((accepted + a))
  for r in $(grep -o '"reason":"[a-z_]*"' <<<"$answer" | sed 's/.*:"\(.*\)"/\1/' || true); do
    reasons[$r]=$(( ${reasons[$r]:-0} + 1 )); refused=$((refused + 1))
  done
  hours=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%d", (n - s) * 2 }')
  printf '\r   simulated hour %3d: sent %5d samples, accepted %5d, refused %5d' "$hours" $((i * 100)) "$accepted" "$refused"
  # pace: 2 batches of 100 per real second = 100 samples per simulated hour
  sleep "$(awk -v s="$start" -v n="$(date +%s.%N)" -v i="$i" 'BEGIN { d = s + i * 0.5 - n; if (d < 0) d = 0; printf "%.3f", d }')"
done
echo

echo "== 5. the story"
printf '   %-22s %6s\n' "accepted" "$accepted"
for r in "${!reasons[@]}"; do printf '   %-22s %6s\n' "refused: $r" "${reasons[$r]}"; done
echo "   agent status:"
"$bin/tollgate-agent" status --data "$demo/press-01" | sed 's/^/   /'
echo
echo "The server keeps running until Ctrl-C. Try, in another shell:"
echo "   export TOLLGATE_SERVER=$server_url TOLLGATE_API_KEY=$admin_key"
echo "   bin/tollgatectl license list"
echo "   bin/tollgatectl audit list"
wait "${pids[0]}"
