import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readServiceSettings } from "../../src/model/service-settings.ts";
import {
  serviceDomains,
  toCatchAllVirtualHost,
  toRouteConfiguration,
  UNKNOWN_HOST_ROUTE,
  type RoutedService,
  type VirtualHostObject,
} from "../../src/xds/resources/route-configuration.ts";
import { roundTrip } from "../support/decode-resource.ts";

const routed = (name: string, meta: Record<string, string> = {}): RoutedService => ({
  name,
  settings: readServiceSettings(meta).settings,
});

function routes(...services: RoutedService[]) {
  return routesWith(undefined, ...services);
}

function routesWith(catchAll: VirtualHostObject | undefined, ...services: RoutedService[]) {
  const { value, shadowed } = toRouteConfiguration("consul-services", services, catchAll);
  const decoded = roundTrip("routeConfiguration", value) as {
    name: string;
    virtual_hosts: { name: string; domains: string[]; routes: Record<string, unknown>[] }[];
  };
  return { decoded, shadowed };
}

describe("toRouteConfiguration", () => {
  it("gives each service a virtual host reached by NAME and NAME.service.consul, any port", () => {
    const { decoded } = routes(routed("web"));
    assert.deepEqual(decoded, {
      name: "consul-services",
      virtual_hosts: [
        {
          name: "web",
          domains: ["web", "web:*", "web.service.consul", "web.service.consul:*"],
          routes: [{ name: "web", match: { prefix: "/" }, route: { cluster: "web" } }],
        },
      ],
    });
    assert.deepEqual(serviceDomains("api"), [
      "api",
      "api:*",
      "api.service.consul",
      "api.service.consul:*",
    ]);
  });

  it("has no catch-all host without one given (no gateway), so an unknown Host gets Envoy's 404", () => {
    const { decoded } = routes(routed("web"), routed("api"));
    assert.ok(decoded.virtual_hosts.every((host) => !host.domains.includes("*")));
  });

  it("sorts virtual hosts by service name whatever order services come in", () => {
    const { decoded } = routes(routed("web"), routed("api"), routed("db"));
    assert.deepEqual(
      decoded.virtual_hosts.map((host) => host.name),
      ["api", "db", "web"],
    );
  });

  it("takes the path prefix, timeout and retry policy from meta", () => {
    const { decoded } = routes(
      routed("web", {
        "envoy-route-prefix": "/api/",
        "envoy-route-timeout": "30s",
        "envoy-retries": "3",
        "envoy-retry-on": "5xx,connect-failure",
        "envoy-per-try-timeout": "500ms",
      }),
    );
    assert.deepEqual(decoded.virtual_hosts[0]!.routes[0], {
      name: "web",
      match: { prefix: "/api/" },
      route: {
        cluster: "web",
        timeout: { seconds: 30, nanos: 0 },
        retry_policy: {
          retry_on: "5xx,connect-failure",
          num_retries: { value: 3 },
          per_try_timeout: { seconds: 0, nanos: 500_000_000 },
        },
      },
    });
  });

  it("disables the route timeout of grpc services (long-lived streams)", () => {
    const { decoded } = routes(routed("stream", { "envoy-protocol": "grpc" }));
    assert.deepEqual(decoded.virtual_hosts[0]!.routes[0]!.route, {
      cluster: "stream",
      timeout: { seconds: 0, nanos: 0 },
    });
  });

  it("routes only the first of two services whose names differ only in case", () => {
    const { decoded, shadowed } = routes(routed("web"), routed("Web"));
    assert.deepEqual(
      decoded.virtual_hosts.map((host) => host.name),
      ["Web"],
    );
    assert.deepEqual(shadowed, ["web"]);
  });

  it("leaves out a service whose Host names another service already has", () => {
    const { decoded, shadowed } = routes(routed("a"), routed("a.service.consul"));
    assert.deepEqual(
      decoded.virtual_hosts.map((host) => host.name),
      ["a"],
    );
    assert.deepEqual(shadowed, ["a.service.consul"]);
  });

  it("is an empty configuration when no service is exported", () => {
    assert.deepEqual(routes().decoded, { name: "consul-services" });
  });
});

describe("the gateway's catch-all virtual host", () => {
  const web = routed("web");
  const api = routed("api");

  it("sends a Host that names no service to the default service's cluster, after every service", () => {
    const { decoded } = routesWith(toCatchAllVirtualHost(api), web, api);
    assert.deepEqual(decoded.virtual_hosts.at(-1), {
      name: "*",
      domains: ["*"],
      routes: [{ name: "api", match: { prefix: "/" }, route: { cluster: "api" } }],
    });
  });

  it("leaves every service's own virtual host exactly as without it", () => {
    const without = routes(web, api).decoded.virtual_hosts;
    const withDefault = routesWith(toCatchAllVirtualHost(api), web, api).decoded.virtual_hosts;
    const withNone = routesWith(toCatchAllVirtualHost(undefined), web, api).decoded.virtual_hosts;
    assert.deepEqual(withDefault.slice(0, -1), without);
    assert.deepEqual(withNone.slice(0, -1), without);
    for (const hosts of [withDefault, withNone]) {
      assert.deepEqual(
        hosts.filter((host) => host.domains.includes("*")).length,
        1,
        "one catch-all",
      );
    }
  });

  it("keeps the default service's prefix, timeout and subset routes", () => {
    const legacy = routed("legacy", { "envoy-route-prefix": "/v1/", "envoy-route-timeout": "5s" });
    const host = toCatchAllVirtualHost(legacy);
    assert.deepEqual(host.domains, ["*"]);
    assert.deepEqual(
      host.routes,
      toRouteConfiguration("r", [legacy]).value.virtual_hosts[0]!.routes,
    );
  });

  it("answers 404 with a body saying how to address a service when there is no default service", () => {
    const { decoded } = routesWith(toCatchAllVirtualHost(undefined), web);
    assert.deepEqual(decoded.virtual_hosts.at(-1), {
      name: "*",
      domains: ["*"],
      routes: [
        {
          name: UNKNOWN_HOST_ROUTE,
          match: { prefix: "/" },
          direct_response: {
            status: 404,
            body: {
              inline_string:
                "no service for this Host in Consul; address a service with Host: NAME or NAME.service.consul\n",
            },
          },
        },
      ],
    });
  });

  it("is the whole configuration when no service is exported", () => {
    const { decoded } = routesWith(toCatchAllVirtualHost(undefined));
    assert.deepEqual(
      decoded.virtual_hosts.map((host) => host.domains),
      [["*"]],
    );
  });
});
