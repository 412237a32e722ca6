# Consul agent for the demo: `consul agent -dev -config-file=consul/agent.hcl -config-dir=consul/services`
# (Consul 1.8). Dev mode keeps everything in memory: restart it and the catalog starts from the
# service definitions below again, while shim and self-registered backends register anew.

datacenter = "dc1"
node_name  = "demo"

# Loopback only; docker-compose.yml overrides client_addr with -client=0.0.0.0 so the UI and API
# are reachable through the published ports.
bind_addr   = "127.0.0.1"
client_addr = "127.0.0.1"

ui = true

ports {
  http = 8500
  dns  = 8600
  grpc = 8502
}

# Script checks run arbitrary commands; nothing here needs them.
enable_script_checks       = false
enable_local_script_checks = false

# Status changes of checks reach the catalog at once whatever this says; it only delays syncing a
# changed check *output*. The default (5m) keeps the bridge's blocking queries quiet.
# check_update_interval = "0s"

log_level = "INFO"
