#!/usr/bin/env bash
# The full local demo on a fresh machine: Consul (a dev agent unless one is already reachable),
# the bridge, Envoy and six backends on 8081-8086 (three registered through the shim exactly as
# the original README's curl loop does, two registering themselves, one by the service definition
# consul/services/native-backend.hcl), then traffic through Envoy's gateway listener until Ctrl-C,
# which stops everything. `--once`: stop after all six have answered.
# Envoy runs envoy.yaml (its ports rewritten to the ones below), which names only the bridge: the
# bridge (--gateway-port) serves the listener, and requests reach `myservice` by Host.
#
# Ports, each checked free before anything starts (set one to move it):
#   DEMO_CONSUL_PORT=8500 DEMO_XDS_PORT=18000 DEMO_HTTP_PORT=5000 DEMO_GATEWAY_PORT=10000
#   DEMO_ADMIN_PORT=9901 (Envoy's admin); the backends keep 8081-8086.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ONCE=false
[[ "${1:-}" == "--once" ]] && ONCE=true

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "demo: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/tools.sh runtime
export PATH="$PWD/.tools/bin:$PATH"

DEMO_CONSUL_PORT="${DEMO_CONSUL_PORT:-8500}"
DEMO_XDS_PORT="${DEMO_XDS_PORT:-18000}"
DEMO_HTTP_PORT="${DEMO_HTTP_PORT:-5000}"
DEMO_GATEWAY_PORT="${DEMO_GATEWAY_PORT:-10000}"
DEMO_ADMIN_PORT="${DEMO_ADMIN_PORT:-9901}"
BACKEND_PORTS=(8081 8082 8083 8084 8085 8086)

LOGS="$PWD/.tools/demo-logs"
mkdir -p "$LOGS"
export CONSUL_HTTP_ADDR="${CONSUL_HTTP_ADDR:-127.0.0.1:$DEMO_CONSUL_PORT}"
PIDS=()
DEREGISTER_NATIVE=false
# Children run in sessions of their own so Ctrl-C reaches only this script, which then stops
# them in order.
run_bg() { setsid "$@" & }

cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo: stopping everything"
  # In reverse order of start: backends (self-registered ones deregister), Envoy, the bridge,
  # then Consul, each gone before the next is asked.
  if $DEREGISTER_NATIVE; then
    consul services deregister consul/services/native-backend.hcl >/dev/null 2>&1 || true
  fi
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until the command succeeds, at most $1 seconds.
wait_until() {
  local deadline=$((SECONDS + $1)) what="$2"
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      echo "demo: timed out waiting for $what (logs in $LOGS)" >&2
      exit 1
    fi
    sleep 0.2
  done
}

consul_up() { curl -sf "http://$CONSUL_HTTP_ADDR/v1/status/leader" | grep -q '[0-9]'; }

# Says which port is taken, by whom when `ss` can tell, and how to move it; exits non-zero.
port_taken() {
  local port="$1" variable="$2" what="$3" owner=""
  if command -v ss >/dev/null 2>&1; then
    owner="$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n 1 || true)"
  fi
  echo "demo: port $port ($what) is already in use${owner:+ by $owner}." >&2
  if [[ -n "$variable" ]]; then
    echo "demo: stop that process or pick another port, e.g. $variable=$((port + 1)) npm run demo" >&2
  else
    echo "demo: the backends need 8081-8086: stop that process and run the demo again" >&2
  fi
  exit 1
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_ports() {
  local checks=(
    "$DEMO_XDS_PORT DEMO_XDS_PORT bridge-xDS"
    "$DEMO_HTTP_PORT DEMO_HTTP_PORT bridge-shim-and-status-page"
    "$DEMO_GATEWAY_PORT DEMO_GATEWAY_PORT Envoy-gateway-listener"
    "$DEMO_ADMIN_PORT DEMO_ADMIN_PORT Envoy-admin"
  )
  $1 && checks+=("$DEMO_CONSUL_PORT DEMO_CONSUL_PORT Consul-HTTP-API")
  for port in "${BACKEND_PORTS[@]}"; do checks+=("$port - sample-backend"); done
  local -A used=()
  for check in "${checks[@]}"; do
    read -r port variable what <<<"$check"
    [[ "$variable" == "-" ]] && variable=""
    what="${what//-/ }"
    if [[ -n "${used[$port]:-}" ]]; then
      echo "demo: port $port is given twice ($what and ${used[$port]}); pick another with $variable" >&2
      exit 1
    fi
    used[$port]="$what"
    port_free "$port" || port_taken "$port" "$variable" "$what"
  done
}

if consul_up; then
  echo "demo: using the Consul agent at $CONSUL_HTTP_ADDR"
  check_ports false
  echo "demo: registering consul/services/native-backend.hcl (myservice on 8086)"
  consul services register consul/services/native-backend.hcl >/dev/null
  DEREGISTER_NATIVE=true
else
  check_ports true
  echo "demo: starting a Consul dev agent on :$DEMO_CONSUL_PORT with consul/services/ loaded (logs: $LOGS/consul.log)"
  run_bg consul agent -dev -config-file=consul/agent.hcl -config-dir=consul/services \
    -http-port "$DEMO_CONSUL_PORT" >"$LOGS/consul.log" 2>&1
  PIDS+=($!)
  wait_until 30 "Consul" consul_up
fi

echo "demo: starting the bridge: shim and status page on :$DEMO_HTTP_PORT, xDS on :$DEMO_XDS_PORT, gateway listener :$DEMO_GATEWAY_PORT (logs: $LOGS/bridge.log)"
run_bg node --import tsx src/main.ts --gateway-port "$DEMO_GATEWAY_PORT" \
  --http-port "$DEMO_HTTP_PORT" --xds-port "$DEMO_XDS_PORT" >"$LOGS/bridge.log" 2>&1
PIDS+=($!)
wait_until 30 "the bridge" curl -sf "http://127.0.0.1:$DEMO_HTTP_PORT/ready"

echo "demo: starting Envoy: clusters, routes and listener from the bridge, admin :$DEMO_ADMIN_PORT (logs: $LOGS/envoy.log)"
sed -e "s/port_value: 9901\b/port_value: $DEMO_ADMIN_PORT/" \
  -e "s/port_value: 18000\b/port_value: $DEMO_XDS_PORT/" envoy.yaml >"$LOGS/envoy.yaml"
run_bg envoy -c "$LOGS/envoy.yaml" --log-level warn --disable-hot-restart >"$LOGS/envoy.log" 2>&1
PIDS+=($!)

echo "demo: starting six backends on 8081-8086 (8084 and 8085 register themselves, 8086 is in consul/services/native-backend.hcl)"
for port in "${BACKEND_PORTS[@]}"; do
  flags=()
  ((port == 8084 || port == 8085)) && flags=(--register)
  run_bg node --import tsx src/backend/sample-backend.ts --port "$port" "${flags[@]}" >"$LOGS/backend-$port.log" 2>&1
  PIDS+=($!)
done
for port in "${BACKEND_PORTS[@]}"; do
  wait_until 30 "the backend on $port" curl -sf "http://127.0.0.1:$port/healthz"
done

echo "demo: registering 8081-8083 through the shim, as the original README did"
for i in 8081 8082 8083; do
  curl -s "http://localhost:$DEMO_HTTP_PORT/edsservice/register?endpoint=127.0.0.1:$i"
  echo
  sleep .5
done

wait_until 30 "Envoy's gateway listener" curl -s -o /dev/null "http://127.0.0.1:$DEMO_GATEWAY_PORT/"

summary() {
  cat <<SUMMARY
demo: where to look
  status page    http://127.0.0.1:$DEMO_HTTP_PORT/   (services, Envoys, changes, live)
  Consul UI      http://$CONSUL_HTTP_ADDR/ui/
  Envoy admin    http://127.0.0.1:$DEMO_ADMIN_PORT/clusters   (also /stats/prometheus)
  traffic        curl -H 'Host: myservice' http://localhost:$DEMO_GATEWAY_PORT
  logs           $LOGS
  consul CLI     export PATH="$PWD/.tools/bin:\$PATH"   (then: consul catalog services)
SUMMARY
}

echo "demo: traffic through Envoy on :$DEMO_GATEWAY_PORT with Host: myservice (Ctrl-C stops everything)"
declare -A seen=()
announced=false
while true; do
  answer="$(curl -s --max-time 5 -H 'Host: myservice' "http://localhost:$DEMO_GATEWAY_PORT" || true)"
  echo "$answer"
  port="$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' <<<"$answer")"
  [[ -n "$port" ]] && seen[$port]=1
  if ! $announced && ((${#seen[@]} == ${#BACKEND_PORTS[@]})); then
    announced=true
    echo "demo: all six backends (${!seen[*]}) answered through Envoy on :$DEMO_GATEWAY_PORT"
    summary
    $ONCE && exit 0
  fi
  sleep .5
done
