# A `myservice` instance registered natively, by a service definition file, rather than through
# the bridge's shim or by the backend itself. Run its process with `npm run backend -- --port 8086`
# (without --register: this file is its registration).

service {
  id      = "myservice-native-8086"
  name    = "myservice"
  address = "127.0.0.1"
  port    = 8086
  tags    = ["native"]
  meta {
    registered_by = "service-definition"
  }

  # Envoy's load_balancing_weight: 3 while passing, 1 while warning.
  weights {
    passing = 3
    warning = 1
  }

  check {
    id       = "myservice-native-8086-http"
    name     = "HTTP GET /healthz"
    http     = "http://127.0.0.1:8086/healthz"
    method   = "GET"
    interval = "2s"
    timeout  = "1s"
  }
}
