import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readServiceSettings } from "../../src/model/service-settings.ts";
import {
  ACCESS_LOG_FORMAT,
  GATEWAY_LISTENER_NAME,
  toApiListener,
  toGatewayListener,
  ZIPKIN_COLLECTOR_ENDPOINT,
} from "../../src/xds/resources/listener.ts";
import { UNKNOWN_HOST_ROUTE } from "../../src/xds/resources/route-configuration.ts";
import { roundTrip } from "../support/decode-resource.ts";

const HCM =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER = {
  name: "envoy.filters.http.router",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
};

describe("toGatewayListener", () => {
  const decoded = roundTrip(
    "listener",
    toGatewayListener({ host: "0.0.0.0", port: 10000, routeConfigName: "consul-services" }),
  ) as {
    name: string;
    address: unknown;
    filter_chains: { filters: { name: string; typed_config: Record<string, unknown> }[] }[];
  };
  const hcm = decoded.filter_chains[0]!.filters[0]!.typed_config;

  it("is named consul-gateway and listens on the configured address", () => {
    assert.equal(decoded.name, GATEWAY_LISTENER_NAME);
    assert.equal(decoded.name, "consul-gateway");
    assert.deepEqual(decoded.address, {
      socket_address: { address: "0.0.0.0", port_value: 10000 },
    });
    assert.equal(decoded.filter_chains.length, 1);
    assert.equal(decoded.filter_chains[0]!.filters.length, 1);
  });

  it("takes its routes from the route configuration over ADS and ends with the router", () => {
    assert.equal(hcm["@type"], HCM);
    assert.deepEqual(hcm.rds, {
      config_source: { ads: {}, resource_api_version: "V3" },
      route_config_name: "consul-services",
    });
    assert.deepEqual(hcm.http_filters, [ROUTER]);
    assert.deepEqual(hcm.generate_request_id, { value: true });
  });

  it("puts the requested Host into the unknown-Host 404, picked by its route's name", () => {
    assert.deepEqual(hcm.local_reply_config, {
      mappers: [
        {
          filter: {
            extension_filter: {
              name: "envoy.access_loggers.extension_filters.cel",
              typed_config: {
                "@type":
                  "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
                expression: `xds.route_name == '${UNKNOWN_HOST_ROUTE}'`,
              },
            },
          },
          body_format_override: {
            text_format_source: {
              inline_string:
                'no service "%REQ(:AUTHORITY)%" in Consul; address a service with Host: NAME or NAME.service.consul\n',
            },
          },
        },
      ],
    });
  });

  it("writes one JSON access-log line per request to stdout, with every field", () => {
    const [log] = hcm.access_log as {
      name: string;
      typed_config: {
        "@type": string;
        log_format: { json_format: { fields: Record<string, Record<string, string>> } };
      };
    }[];
    assert.equal(log!.name, "envoy.access_loggers.stdout");
    assert.equal(
      log!.typed_config["@type"],
      "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
    );
    const fields = log!.typed_config.log_format.json_format.fields;
    const values = Object.fromEntries(
      Object.entries(fields).map(([key, value]) => [key, Object.values(value)[0]]),
    );
    assert.deepEqual(values, ACCESS_LOG_FORMAT);
    for (const key of ["request_id", "method", "path", "authority", "status", "bytes_sent"]) {
      assert.ok(key in values, key);
    }
    for (const key of ["duration_ms", "upstream_host", "cluster"]) assert.ok(key in values, key);
  });
});

describe("toGatewayListener with a Zipkin collector", () => {
  const options = { host: "0.0.0.0", port: 10000, routeConfigName: "consul-services" };
  const hcmOf = (listener: object): Record<string, unknown> =>
    (
      roundTrip("listener", listener) as {
        filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[];
      }
    ).filter_chains[0]!.filters[0]!.typed_config;

  it("traces every request to the collector's cluster over Zipkin's v2 JSON API", () => {
    const hcm = hcmOf(toGatewayListener({ ...options, zipkinCluster: "zipkin_collector" }));
    const tracing = hcm.tracing as { provider: { name: string; typed_config: object } };
    assert.equal(tracing.provider.name, "envoy.tracers.zipkin");
    assert.deepEqual(tracing.provider.typed_config, {
      "@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
      collector_cluster: "zipkin_collector",
      collector_endpoint: ZIPKIN_COLLECTOR_ENDPOINT,
      collector_endpoint_version: "HTTP_JSON",
      trace_id_128bit: true,
    });
    assert.deepEqual(hcm.generate_request_id, { value: true }, "ids still generated");
  });

  it("has no tracer when no collector is configured", () => {
    assert.equal(hcmOf(toGatewayListener(options)).tracing, undefined);
  });
});

describe("toApiListener", () => {
  it("routes the requested listener name to the service's cluster, inline, router last", () => {
    const service = { name: "greeter", settings: readServiceSettings({}).settings };
    const decoded = roundTrip("listener", toApiListener("greeter:50051", service));
    assert.deepEqual(decoded, {
      name: "greeter:50051",
      api_listener: {
        api_listener: {
          "@type": HCM,
          stat_prefix: "greeter:50051",
          route_config: {
            name: "greeter:50051",
            virtual_hosts: [
              {
                name: "greeter",
                domains: ["*"],
                routes: [
                  { name: "greeter", match: { prefix: "/" }, route: { cluster: "greeter" } },
                ],
              },
            ],
          },
          http_filters: [ROUTER],
        },
      },
    });
  });
});
