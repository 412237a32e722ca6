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
