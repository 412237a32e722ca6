import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readServiceSettings } from "../../src/model/service-settings.ts";
import { toCluster } from "../../src/xds/resources/cluster.ts";
import { roundTrip } from "../support/decode-resource.ts";

const cluster = (meta: Record<string, string> = {}) =>
  roundTrip("cluster", toCluster("web", readServiceSettings(meta).settings));

const ADS = { ads: {}, resource_api_version: "V3" };
const seconds = (s: number, nanos = 0) => ({ seconds: s, nanos });

describe("toCluster", () => {
  it("names an EDS cluster after the service, endpoints over ADS, 5 s connect timeout", () => {
    assert.deepEqual(cluster(), {
      name: "web",
      type: "EDS",
      eds_cluster_config: { eds_config: ADS },
      connect_timeout: seconds(5),
      lb_policy: "ROUND_ROBIN",
      common_lb_config: { locality_weighted_lb_config: {} },
    });
  });

  it("balances by locality weight unless meta asks for zone-aware or nothing", () => {
    assert.deepEqual(cluster({ "envoy-locality-lb": "zone-aware" }).common_lb_config, {
      zone_aware_lb_config: {},
    });
    assert.equal(cluster({ "envoy-locality-lb": "off" }).common_lb_config, undefined);
  });

  it("builds subsets from envoy-subset-keys, falling back to any endpoint", () => {
    assert.equal(cluster().lb_subset_config, undefined);
    assert.deepEqual(cluster({ "envoy-subset-keys": "version;version,stage" }).lb_subset_config, {
      fallback_policy: "ANY_ENDPOINT",
      subset_selectors: [{ keys: ["version"] }, { keys: ["stage", "version"] }],
    });
  });

  it("sets no active health check, whatever the meta", () => {
    const all = cluster({ "envoy-outlier-detection": "on", "envoy-protocol": "grpc" });
    assert.equal(all.health_checks, undefined);
  });

  it("takes connect timeout and load-balancing policy from meta", () => {
    const c = cluster({ "envoy-connect-timeout": "1.25s", "envoy-lb-policy": "least_request" });
    assert.deepEqual(c.connect_timeout, seconds(1, 250_000_000));
    assert.equal(c.lb_policy, "LEAST_REQUEST");
    assert.equal(cluster({ "envoy-lb-policy": "ring_hash" }).lb_policy, "RING_HASH");
    assert.equal(cluster({ "envoy-lb-policy": "maglev" }).lb_policy, "MAGLEV");
  });

  it("speaks HTTP/2 upstream for http2 and grpc services, HTTP/1.1 otherwise", () => {
    const options = {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
    assert.deepEqual(
      cluster({ "envoy-protocol": "http2" }).typed_extension_protocol_options,
      options,
    );
    assert.deepEqual(
      cluster({ "envoy-protocol": "grpc" }).typed_extension_protocol_options,
      options,
    );
    assert.equal(
      cluster({ "envoy-protocol": "http1" }).typed_extension_protocol_options,
      undefined,
    );
  });

  it("turns outlier detection on with 5 consecutive 5xx, 10 s interval, 30 s ejection", () => {
    assert.deepEqual(cluster({ "envoy-outlier-detection": "on" }).outlier_detection, {
      consecutive_5xx: { value: 5 },
      interval: seconds(10),
      base_ejection_time: seconds(30),
      max_ejection_percent: { value: 50 },
    });
    assert.equal(cluster({ "envoy-outlier-detection": "off" }).outlier_detection, undefined);
  });

  it("sets only the circuit-breaker limits the meta gives", () => {
    assert.deepEqual(
      cluster({ "envoy-max-requests": "7", "envoy-max-retries": "2" }).circuit_breakers,
      {
        thresholds: [
          { priority: "DEFAULT", max_requests: { value: 7 }, max_retries: { value: 2 } },
        ],
      },
    );
    const all = cluster({
      "envoy-max-connections": "1",
      "envoy-max-pending-requests": "2",
      "envoy-max-requests": "3",
      "envoy-max-retries": "4",
    });
    assert.deepEqual(all.circuit_breakers, {
      thresholds: [
        {
          priority: "DEFAULT",
          max_connections: { value: 1 },
          max_pending_requests: { value: 2 },
          max_requests: { value: 3 },
          max_retries: { value: 4 },
        },
      ],
    });
  });

  it("builds the default cluster from a service whose meta values are all invalid", () => {
    assert.deepEqual(
      cluster({ "envoy-lb-policy": "fastest", "envoy-connect-timeout": "-1" }),
      cluster(),
    );
  });
});
