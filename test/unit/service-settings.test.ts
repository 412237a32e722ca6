import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_SERVICE_SETTINGS,
  readServiceSettings,
  SERVICE_META_KEYS,
} from "../../src/model/service-settings.ts";

describe("readServiceSettings", () => {
  it("gives the defaults for a service whose meta sets nothing", () => {
    assert.deepEqual(readServiceSettings({ version: "1.2" }), {
      settings: DEFAULT_SERVICE_SETTINGS,
      problems: [],
    });
  });

  it("reads every setting from its envoy-* key", () => {
    const { settings, problems } = readServiceSettings({
      "envoy-connect-timeout": "250ms",
      "envoy-lb-policy": "maglev",
      "envoy-protocol": "http2",
      "envoy-outlier-detection": "on",
      "envoy-max-connections": "10",
      "envoy-max-pending-requests": "20",
      "envoy-max-requests": "30",
      "envoy-max-retries": "4",
      "envoy-route-prefix": "/api/",
      "envoy-route-timeout": "1.5s",
      "envoy-retries": "2",
      "envoy-retry-on": "5xx, reset",
      "envoy-per-try-timeout": "1m",
      "envoy-locality-lb": "zone-aware",
      "envoy-subset-keys": "version; version,stage",
      "envoy-subset-header": "X-Version",
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(settings, {
      connectTimeoutMs: 250,
      lbPolicy: "maglev",
      protocol: "http2",
      outlierDetection: true,
      circuitBreakers: {
        maxConnections: 10,
        maxPendingRequests: 20,
        maxRequests: 30,
        maxRetries: 4,
      },
      routePrefix: "/api/",
      routeTimeoutMs: 1500,
      retry: { numRetries: 2, retryOn: "5xx,reset", perTryTimeoutMs: 60_000 },
      localityLb: "zone-aware",
      subsets: {
        selectors: [["version"], ["stage", "version"]],
        header: { name: "x-version", key: "version" },
      },
    });
  });

  it("ignores subset and locality values it cannot use, naming each, and keeps the rest", () => {
    const bad = readServiceSettings({
      "envoy-locality-lb": "nearest",
      "envoy-subset-keys": "version,bad key;envoy-lb-policy",
      "envoy-subset-header": "x-version",
    });
    assert.equal(bad.settings.localityLb, "weighted");
    assert.equal(bad.settings.subsets, undefined);
    assert.deepEqual(
      bad.problems.map((p) => [p.key, p.reason]),
      [
        ["envoy-locality-lb", "expected one of weighted, zone-aware, off"],
        ["envoy-subset-keys", 'not a metadata key: "bad key", "envoy-lb-policy"'],
        ["envoy-subset-header", "needs a selector of one key in envoy-subset-keys"],
      ],
    );
    const noSingle = readServiceSettings({
      "envoy-subset-keys": "version,stage",
      "envoy-subset-header": ":authority",
    });
    assert.deepEqual(noSingle.settings.subsets, {
      selectors: [["stage", "version"]],
      header: undefined,
    });
    assert.deepEqual(
      noSingle.problems.map((p) => p.reason),
      ["expected an HTTP header name"],
    );
  });

  it("reads a bare number as milliseconds and 0 as no route timeout", () => {
    const { settings } = readServiceSettings({
      "envoy-connect-timeout": "1200",
      "envoy-route-timeout": "0",
    });
    assert.equal(settings.connectTimeoutMs, 1200);
    assert.equal(settings.routeTimeoutMs, 0);
  });

  it("gives grpc services HTTP/2 and no route timeout unless one is set", () => {
    assert.equal(readServiceSettings({ "envoy-protocol": "grpc" }).settings.routeTimeoutMs, 0);
    const timed = readServiceSettings({ "envoy-protocol": "grpc", "envoy-route-timeout": "5s" });
    assert.equal(timed.settings.routeTimeoutMs, 5000);
  });

  it("sets no retry policy when envoy-retries is absent or 0, whatever else is set", () => {
    assert.equal(readServiceSettings({ "envoy-retry-on": "5xx" }).settings.retry, undefined);
    assert.equal(readServiceSettings({ "envoy-retries": "0" }).settings.retry, undefined);
    assert.deepEqual(readServiceSettings({ "envoy-retries": "1" }).settings.retry, {
      numRetries: 1,
      retryOn: "connect-failure,refused-stream,reset",
      perTryTimeoutMs: undefined,
    });
  });

  it("ignores each bad value for its default and reports every one with its key", () => {
    const { settings, problems } = readServiceSettings({
      "envoy-connect-timeout": "0ms",
      "envoy-lb-policy": "random",
      "envoy-protocol": "http3",
      "envoy-outlier-detection": "maybe",
      "envoy-max-requests": "-5",
      "envoy-route-prefix": "api",
      "envoy-route-timeout": "soon",
      "envoy-retries": "2",
      "envoy-retry-on": "5xx,teapot",
      "envoy-per-try-timeout": "10y",
    });
    assert.deepEqual(settings, {
      ...DEFAULT_SERVICE_SETTINGS,
      retry: {
        numRetries: 2,
        retryOn: "connect-failure,refused-stream,reset",
        perTryTimeoutMs: undefined,
      },
    });
    assert.deepEqual(problems.map((p) => p.key).sort(), [
      "envoy-connect-timeout",
      "envoy-lb-policy",
      "envoy-max-requests",
      "envoy-outlier-detection",
      "envoy-per-try-timeout",
      "envoy-protocol",
      "envoy-retry-on",
      "envoy-route-prefix",
      "envoy-route-timeout",
    ]);
    const retryOn = problems.find((p) => p.key === "envoy-retry-on")!;
    assert.equal(retryOn.value, "5xx,teapot");
    assert.match(retryOn.reason, /"teapot"/);
  });

  it("documents every key it reads with the envoy- prefix", () => {
    for (const spec of Object.values(SERVICE_META_KEYS)) {
      assert.match(spec.key, /^envoy-[a-z0-9-]+$/);
      assert.ok(spec.meaning && spec.default && spec.example);
    }
  });
});
