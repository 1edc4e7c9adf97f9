#!/usr/bin/env bash
# make run: the whole story of Tollgate, with the real binaries.
#
# It starts a license server with its embedded MQTT broker on free loopback
# ports, provisions with tollgatectl a distributor, a customer and their
# devices — press-01 on a 3-day prepaid license, press-02 on a term license
# of 40 samples/hour, press-03 on the customer's trial, press-04 on a term
# license that the vendor revokes halfway, and a gateway gw-01 whose three
# child sensors publish to its local MQTT broker — and runs one agent per
# device or gateway on a clock that passes 3 hours per second. firmware-sim
# then drives the fleet for 5 simulated days (60 samples per device and
# hour) through the agents' real ingest paths, and prints the story. The
# agents sync with the server, whose ledger then holds the day deductions.
# The server keeps running until Ctrl-C.
#
# Environment: DEMO_DAYS (default 5, at least 3), DEMO_SPEED (default 10800),
# DEMO_DIR (default .demo), TOLLGATE_BIN (default bin; the e2e test sets them).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${TOLLGATE_BIN:-$PWD/bin}
demo=${DEMO_DIR:-$PWD/.demo}
rel=${demo#"$PWD"/} # how the story names the agents' data directories
shown_bin=${bin#"$PWD"/}
days=${DEMO_DAYS:-5}
speed=${DEMO_SPEED:-10800}
[[ $days =~ ^[0-9]+$ && $days -ge 3 && $days -le 366 ]] || { echo "error: usage: DEMO_DAYS must be 3..366 (the revocation comes on day 2)" >&2; exit 2; }
[[ $speed =~ ^[0-9]+$ && $speed -ge 1 && $speed -le 1000000 ]] || { echo "error: usage: DEMO_SPEED must be 1..1000000" >&2; exit 2; }
[[ $demo != / && $demo != "$PWD" && $demo != "$HOME" ]] || { echo "error: usage: DEMO_DIR $demo would be wiped" >&2; exit 2; }
rm -rf "$demo"
mkdir -p "$demo"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM # exit through the EXIT trap, so that every process stops too

wait_for_line() { # FILE PATTERN → prints the first matching line
  for _ in $(seq 1 200); do
    if line=$(grep -m1 "$2" "$1" 2>/dev/null); then echo "$line"; return 0; fi
    sleep 0.1
  done
  echo "error: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}
json_field() { sed -n 's/.*"'"$1"'": *"\([^"]*\)".*/\1/p' | head -1; } # first "FIELD": "value"
json_ids() { grep -o '"id": *"[0-9a-f-]\{36\}"' | sed 's/.*"\([0-9a-f-]\{36\}\)"/\1/'; }

echo "== 1. license server"
admin_key=$("$bin/tollgate-server" init --data "$demo/server" --name "Tollgate Vendor" -o json | json_field admin_api_key)
"$bin/tollgate-server" serve --data "$demo/server" --http 127.0.0.1:0 --mqtt 127.0.0.1:0 >"$demo/server.log" 2>&1 &
pids+=($!)
server_url=$(wait_for_line "$demo/server.log" '^http: ' | sed 's/^http: //')
mqtt_addr=$(wait_for_line "$demo/server.log" '^mqtt: ' | sed 's/^mqtt: //')
echo "   serving $server_url, MQTT broker on $mqtt_addr (log: $demo/server.log)"
export TOLLGATE_SERVER=$server_url TOLLGATE_API_KEY=$admin_key
ctl() { "$bin/tollgatectl" "$@"; }

echo "== 2. distributor Northwind, its customer Acme, Acme's devices and licenses"
ctl customer create --id northwind --name "Northwind Distribution" --email ops@northwind.test >/dev/null
ctl customer set northwind --issuer=true --allowed-months 12,24,36 >/dev/null # a distributor: the vendor lets it create licenses
# console_password INVITATION_PATH: sets the demo's console password through
# the invitation link, as the person does in a browser (GET the form for its
# CSRF cookie, post it back).
console_password="tollgate-demo-password"
console_password() {
  local jar tok
  jar=$(mktemp)
  curl -fsS -c "$jar" -o /dev/null "$server_url$1" &&
    tok=$(awk '$6 == "tollgate_form" { print $7 }' "$jar") &&
    curl -fsS -b "$jar" -o /dev/null --data-urlencode "csrf=$tok" --data-urlencode "password=$console_password" \
      --data-urlencode "confirm=$console_password" "$server_url$1" ||
    echo "   (setting a console password failed; tollgatectl user reset-password makes a new link)" >&2
  rm -f "$jar"
}
dist_user=$(ctl user create --customer northwind --email ops@northwind.test --role admin -o json)
dist_key=$(json_field api_key <<<"$dist_user")
console_password "$(json_field invitation_path <<<"$dist_user")"
dist() { TOLLGATE_API_KEY=$dist_key "$bin/tollgatectl" "$@"; }
dist customer create --id acme --name "Acme Plastics" --parent northwind --email it@acme.test >/dev/null
acme_user=$(dist user create --customer acme --email it@acme.test --role admin -o json)
acme_key=$(json_field api_key <<<"$acme_user")
console_password "$(json_field invitation_path <<<"$acme_user")"
acme() { TOLLGATE_API_KEY=$acme_key "$bin/tollgatectl" "$@"; }
"$bin/tollgate-server" trust --data "$demo/server" --out "$demo/trust.json" >/dev/null

# device ID MODEL [GATEWAY]: a key pair made on the device (tollgate-agent
# init), registered with the server; prints the public key.
device() {
  local pub
  pub=$("$bin/tollgate-agent" init --data "$demo/$1" --device-id "$1" --model "$2" --trust "$demo/trust.json" -o json | json_field public_key)
  acme device create --customer acme --id "$1" --model "$2" --public-key "$pub" ${3:+--gateway "$3"} >/dev/null
  echo "$pub"
}
# license ARGS...: the vendor creates licenses for Northwind, Northwind sells them to Acme; prints the ids.
license() {
  local ids
  ids=$(ctl license create --customer northwind --type standard "$@" -o json | json_ids | sort -u)
  dist license sell --to acme --ids "$(paste -sd, <<<"$ids")" >/dev/null
  echo "$ids"
}
bind() { acme license bind "$1" --device "$2" >/dev/null; acme license token "$1" -o json | json_field token; }

for d in press-01 press-02 press-03 press-04; do device "$d" press-p1 >/dev/null; done
device gw-01 gateway-g1 >/dev/null
children_json=""
for c in sensor-01 sensor-02 sensor-03; do
  pub=$(device "$c" sensor-s1 gw-01)
  children_json+="${children_json:+,}{\"id\":\"$c\",\"model\":\"sensor-s1\",\"public_key\":\"$pub\"}"
  rm -rf "${demo:?}/$c" # a child runs no agent: only its key pair was needed
done
printf '{"children":[%s],"log_level":"warn"}\n' "$children_json" >"$demo/gw-01.json"

lic_days=$(license --billing days --days 3 --models 'press-*')
lic_budget=$(license --billing term --months 12 --models 'press-*' --max-samples-per-hour 40)
lic_trial=$(acme license list --customer acme --type trial -o json | json_ids | head -1)
lic_revoke=$(license --billing term --months 12 --models 'press-*')
lic_gw=$(license --billing term --months 12 --models 'gateway-*')
mapfile -t lic_children < <(license --billing term --months 12 --models 'sensor-*' --count 3)
"$bin/tollgate-agent" activate --data "$demo/press-01" "$(bind "$lic_days" press-01)" >/dev/null
"$bin/tollgate-agent" activate --data "$demo/press-02" "$(bind "$lic_budget" press-02)" >/dev/null
"$bin/tollgate-agent" activate --data "$demo/press-03" "$(bind "$lic_trial" press-03)" >/dev/null
"$bin/tollgate-agent" activate --data "$demo/press-04" "$(bind "$lic_revoke" press-04)" >/dev/null
"$bin/tollgate-agent" activate --data "$demo/gw-01" "$(bind "$lic_gw" gw-01)" >/dev/null
: >"$demo/children.tok"
for i in 0 1 2; do bind "${lic_children[$i]}" "sensor-0$((i + 1))" >>"$demo/children.tok"; done
"$bin/tollgate-agent" activate --data "$demo/gw-01" --config "$demo/gw-01.json" "$demo/children.tok" >/dev/null
printf '   %-10s %-28s %s\n' press-01 "3 prepaid days" "$lic_days" press-02 "term, 40 samples/hour" "$lic_budget" \
  press-03 "Acme's trial (30 days)" "$lic_trial" press-04 "term, revoked on day 2" "$lic_revoke" \
  gw-01 "term (gateway)" "$lic_gw" sensor-0[1-3] "term each, via gw-01" "${lic_children[*]}"

echo "== 3. the gateway's local MQTT broker, and one agent per device and gateway on a clock running ${speed}×"
"$bin/firmware-sim" --local-broker 127.0.0.1:0 --local-broker-dir "$demo/gw-01-broker" >"$demo/local-broker.log" 2>&1 &
pids+=($!)
local_broker=$(wait_for_line "$demo/local-broker.log" '^local broker listening on ' | sed 's/.* on //')
origin=$(date -u +%Y-%m-%dT%H:%M:%SZ)
agent_args=(--server "$server_url" --broker "tcp://$mqtt_addr" --ingest 127.0.0.1:0 --clock-speed "$speed" --clock-origin "$origin")
for d in press-01 press-02 press-03 press-04; do
  "$bin/tollgate-agent" run --data "$demo/$d" "${agent_args[@]}" >"$demo/$d.log" 2>&1 &
  pids+=($!)
done
"$bin/tollgate-agent" run --data "$demo/gw-01" --config "$demo/gw-01.json" --bridge "$local_broker" "${agent_args[@]}" >"$demo/gw-01.log" 2>&1 &
pids+=($!)
for d in press-01 press-02 press-03 press-04 gw-01; do wait_for_line "$demo/$d.log" 'ingest listening on' >/dev/null; done
echo "   agents up (logs: $demo/*.log); gw-01 bridges $local_broker"

real_day=$(awk -v s="$speed" 'BEGIN { printf "%.1f", 86400 / s }')
echo "== 4. firmware-sim: ${days} simulated days, 60 samples per device and hour (a simulated day every ${real_day} s)"
"$bin/firmware-sim" --data "$rel/press-01" --data "$rel/press-02" --data "$rel/press-03" --data "$rel/press-04" \
  --data "$rel/gw-01" --bridge "$local_broker" --rate 60 --pattern steady --duration "${days}d" \
  --clock-speed "$speed" --clock-origin "$origin" >"$demo/story.txt" &
sim=$!
pids+=($sim)
# The vendor revokes press-04's license two simulated days in: the server
# pushes the signed revocation list to the agent over MQTT at once.
sleep "$(awk -v s="$speed" 'BEGIN { printf "%.1f", 2 * 86400 / s + 1 }')"
ctl license revoke "$lic_revoke" >/dev/null
revoked_at=$(date -u -d "@$(awk -v o="$(date -u -d "$origin" +%s)" -v n="$(date -u +%s)" -v s="$speed" 'BEGIN { printf "%d", o + (n - o) * s }')" '+%Y-%m-%d %H:%M')
wait "$sim"
# The agents also sync in the background (every 5 minutes of real time);
# one more sync each carries the last deductions and hourly counts now.
for d in press-01 press-02 press-03 press-04 gw-01; do
  "$bin/tollgate-agent" sync --data "$demo/$d" >>"$demo/sync.log" 2>&1 || echo "   (the sync of $d failed: $demo/sync.log)"
done
echo

echo "== 5. the story (revoked press-04's license at simulated $revoked_at UTC)"
sed 's/^/   /' "$demo/story.txt"
echo
echo "   press-01 ran out of prepaid days and blacklisted itself; press-02 was held to 40 samples/hour"
echo "   (960 per rolling 24 hours); press-03's trial and the gateway's children sent everything;"
echo "   press-04 was cut off by the revocation. The agents decided offline and synced: the server's ledger"
echo "   holds press-01's day deductions and, from the failed day it synced, press-01 blacklisted."
echo "   Each agent: $shown_bin/tollgate-agent status --data $rel/DEVICE"
echo
echo "The server keeps running until Ctrl-C. The web console: $server_url/"
echo "   sign in as ops@northwind.test (the distributor) or it@acme.test (Acme), password $console_password"
echo "Try, in another shell:"
echo "   export TOLLGATE_SERVER=$server_url TOLLGATE_API_KEY=$admin_key"
echo "   $shown_bin/tollgatectl license list"
echo "   $shown_bin/tollgatectl license show $lic_revoke"
echo "   $shown_bin/tollgatectl license deductions $lic_days"
echo "   $shown_bin/tollgatectl device list"
echo "   $shown_bin/tollgatectl device show press-01"
echo "   $shown_bin/tollgatectl device sync press-01        # its syncs: the agents' clocks ran days ahead, so a note"
echo "   $shown_bin/tollgatectl device telemetry press-02   # what the broker saw next to what press-02 reported"
echo "   $shown_bin/tollgatectl audit list"
wait "${pids[0]}"
