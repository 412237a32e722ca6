#!/usr/bin/env bash
# The full local demo on a fresh machine: Consul (a dev agent unless one is already reachable),
# the bridge, Envoy and five backends on 8081-8085 (three registered through the shim exactly as
# the original README's curl loop does, two registering themselves), then traffic through Envoy
# on :10000 until Ctrl-C, which stops everything. `--once`: stop after all five have answered.
# Envoy runs envoy.yaml, which names only the bridge: the bridge (--gateway-port 10000) serves
# the listener on :10000, and requests reach `myservice` by Host (`-H 'Host: myservice'`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ONCE=false
[[ "${1:-}" == "--once" ]] && ONCE=true

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "demo: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/tools.sh
export PATH="$PWD/.tools/bin:$PATH"

LOGS="$PWD/.tools/demo-logs"
mkdir -p "$LOGS"
export CONSUL_HTTP_ADDR="${CONSUL_HTTP_ADDR:-127.0.0.1:8500}"
PIDS=()
# Children run in sessions of their own so Ctrl-C reaches only this script, which then stops
# them in order.
run_bg() { setsid "$@" & }

cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo: stopping everything"
  # In reverse order of start: backends (self-registered ones deregister), Envoy, the bridge,
  # then Consul, each gone before the next is asked.
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

if consul_up; then
  echo "demo: using the Consul agent at $CONSUL_HTTP_ADDR"
else
  echo "demo: starting a Consul dev agent (logs: $LOGS/consul.log)"
  run_bg consul agent -dev -config-file=consul/agent.hcl >"$LOGS/consul.log" 2>&1
  PIDS+=($!)
  wait_until 30 "Consul" consul_up
fi

echo "demo: starting the bridge: shim on :5000, xDS on :18000, gateway listener :10000 (logs: $LOGS/bridge.log)"
run_bg node --import tsx src/main.ts --gateway-port 10000 >"$LOGS/bridge.log" 2>&1
PIDS+=($!)
wait_until 30 "the bridge" curl -sf http://127.0.0.1:5000/ready

echo "demo: starting Envoy: clusters, routes and listener from the bridge, admin :9901 (logs: $LOGS/envoy.log)"
run_bg envoy -c envoy.yaml --log-level warn >"$LOGS/envoy.log" 2>&1
PIDS+=($!)

echo "demo: starting five backends on 8081-8085 (8084 and 8085 register themselves)"
for port in 8081 8082 8083 8084 8085; do
  flags=()
  ((port >= 8084)) && flags=(--register)
  run_bg node --import tsx src/backend/sample-backend.ts --port "$port" "${flags[@]}" >"$LOGS/backend-$port.log" 2>&1
  PIDS+=($!)
done
for port in 8081 8082 8083 8084 8085; do
  wait_until 30 "the backend on $port" curl -sf "http://127.0.0.1:$port/healthz"
done

echo "demo: registering 8081-8083 through the shim, as the original README did"
for i in 8081 8082 8083; do
  curl -s "http://localhost:5000/edsservice/register?endpoint=127.0.0.1:$i"
  echo
  sleep .5
done

wait_until 30 "Envoy's gateway listener" curl -s -o /dev/null http://127.0.0.1:10000/

echo "demo: traffic through Envoy on :10000 with Host: myservice (Ctrl-C stops everything)"
declare -A seen=()
announced=false
while true; do
  answer="$(curl -s --max-time 5 -H 'Host: myservice' http://localhost:10000 || true)"
  echo "$answer"
  port="$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' <<<"$answer")"
  [[ -n "$port" ]] && seen[$port]=1
  if ! $announced && ((${#seen[@]} == 5)); then
    announced=true
    echo "demo: all five backends (${!seen[*]}) answered through Envoy on :10000"
    $ONCE && exit 0
  fi
  sleep .5
done
