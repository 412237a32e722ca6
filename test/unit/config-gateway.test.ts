import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseConfig, type BridgeConfig } from "../../src/config/config.ts";

function routing(argv: string[], env: NodeJS.ProcessEnv = {}): BridgeConfig["routing"] {
  const parsed = parseConfig(argv, env);
  assert.equal(parsed.help, false);
  return parsed.config.routing;
}

function problems(argv: string[]): string[] {
  try {
    parseConfig(argv, {});
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  return assert.fail("expected a ConfigError");
}

describe("--gateway-zipkin", () => {
  it("names the collector's cluster for the gateway, from the flag or BRIDGE_GATEWAY_ZIPKIN", () => {
    const fromFlag = routing(["--gateway-port", "10000", "--gateway-zipkin", "zipkin_collector"]);
    assert.equal(fromFlag.gateway?.zipkinCluster, "zipkin_collector");
    const fromEnv = routing(["--gateway-port", "10000"], { BRIDGE_GATEWAY_ZIPKIN: "zipkin" });
    assert.equal(fromEnv.gateway?.zipkinCluster, "zipkin");
  });

  it("is off by default", () => {
    assert.deepEqual(routing(["--gateway-port", "10000"]).gateway, {
      host: "0.0.0.0",
      port: 10000,
      defaultService: "myservice",
    });
  });

  it("needs a gateway port and a valid cluster name", () => {
    assert.match(problems(["--gateway-zipkin", "zipkin"]).join(), /needs a gateway port/);
    assert.match(
      problems(["--gateway-port", "10000", "--gateway-zipkin", "no spaces"]).join(),
      /--gateway-zipkin=no spaces: not an Envoy cluster name/,
    );
  });
});

function defaultService(argv: string[], env: NodeJS.ProcessEnv = {}): string | undefined {
  const gateway = routing(["--gateway-port", "10000", ...argv], env).gateway;
  assert.ok(gateway);
  return gateway.defaultService;
}

describe("--gateway-default-service", () => {
  it("is the shim's default service unless given, so the original two curls work as they are", () => {
    assert.equal(defaultService([]), "myservice");
    assert.equal(defaultService(["--default-service", "legacy"]), "legacy");
  });

  it("is taken from the flag or BRIDGE_GATEWAY_DEFAULT_SERVICE", () => {
    assert.equal(defaultService(["--gateway-default-service", "web"]), "web");
    assert.equal(defaultService([], { BRIDGE_GATEWAY_DEFAULT_SERVICE: "api" }), "api");
  });

  it("is turned off by an empty value, in the flag or the environment", () => {
    assert.equal(defaultService(["--gateway-default-service", ""]), undefined);
    assert.equal(defaultService(["--gateway-default-service="]), undefined);
    assert.equal(defaultService([], { BRIDGE_GATEWAY_DEFAULT_SERVICE: "" }), undefined);
  });

  it("needs a gateway port and a service name", () => {
    assert.match(problems(["--gateway-default-service", "web"]).join(), /needs a gateway port/);
    assert.match(
      problems(["--gateway-port", "10000", "--gateway-default-service", "a b"]).join(),
      /--gateway-default-service=a b: not a service name/,
    );
  });
});
